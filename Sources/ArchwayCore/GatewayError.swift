public import HTTPTypes

/// An error a client can see. It carries everything needed to answer in the OpenAI error shape
/// and a bounded `shortDescription` that is safe to use as a metric label or `error.type`.
public struct GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status the client receives.
    public var status: HTTPResponse.Status
    /// The OpenAI error `type` (`invalid_request_error`, `upstream_error`, …).
    public var type: String
    /// The OpenAI error `code`, when there is one (`model_not_found`, …).
    public var code: String?
    /// The request field at fault, when there is one.
    public var param: String?
    /// A human-readable explanation; never contains credentials.
    public var message: String
    /// Low-cardinality class of the error, used as `error.type` on spans and metrics.
    public var shortDescription: String

    public init(
        status: HTTPResponse.Status,
        type: String,
        code: String? = nil,
        param: String? = nil,
        message: String,
        shortDescription: String? = nil
    ) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = Self.bounded(message, to: 1_000)
        self.shortDescription = Self.bounded(shortDescription ?? code ?? type, to: 64)
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    static func bounded(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
        // A cut through a multi-byte character decodes to U+FFFD; drop it.
        while result.last == "\u{FFFD}" { result.removeLast() }
        return result + "…"
    }
}

// MARK: - Client errors

extension GatewayError {
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: .badRequest, type: "invalid_request_error", code: code, param: param, message: message, shortDescription: "invalid_request")
    }

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(
            status: .badRequest,
            type: "invalid_request_error",
            code: "invalid_json",
            message: "The request body is not valid JSON: \(detail)",
            shortDescription: "invalid_json"
        )
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(
            status: .notFound,
            type: "invalid_request_error",
            code: "model_not_found",
            param: "model",
            message: "The model '\(bounded(model, to: 200))' does not exist or is not configured on this gateway.",
            shortDescription: "model_not_found"
        )
    }

    public static func payloadTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: .contentTooLarge,
            type: "invalid_request_error",
            code: "request_too_large",
            message: "The request body exceeds the limit of \(limit) bytes.",
            shortDescription: "request_too_large"
        )
    }

    public static func unsupported(_ message: String, param: String? = nil) -> GatewayError {
        GatewayError(status: .badRequest, type: "invalid_request_error", code: "unsupported", param: param, message: message, shortDescription: "unsupported")
    }

    public static func notFound(path: String) -> GatewayError {
        GatewayError(
            status: .notFound,
            type: "invalid_request_error",
            code: "unknown_url",
            message: "Unknown request URL: \(bounded(path, to: 200)).",
            shortDescription: "unknown_url"
        )
    }

    public static func unauthorized(_ message: String) -> GatewayError {
        GatewayError(status: .unauthorized, type: "authentication_error", code: "invalid_api_key", message: message, shortDescription: "unauthorized")
    }

    public static func internalError(_ message: String) -> GatewayError {
        GatewayError(status: .internalServerError, type: "server_error", code: "internal_error", message: message, shortDescription: "internal")
    }

    public static let shuttingDown = GatewayError(
        status: .serviceUnavailable,
        type: "server_error",
        code: "shutting_down",
        message: "The gateway is shutting down.",
        shortDescription: "shutting_down"
    )
}

// MARK: - Upstream errors

extension GatewayError {
    /// The upstream answered with an error status. `excerpt` is a short, credential-free part of its message.
    public static func upstreamStatus(_ status: Int, provider: String, excerpt: String?) -> GatewayError {
        let detail = excerpt.map { ": \(bounded($0, to: 300))" } ?? ""
        let message = "Upstream provider '\(provider)' answered HTTP \(status)\(detail)"
        switch status {
        case 429:
            return GatewayError(status: .tooManyRequests, type: "rate_limit_error", code: "rate_limit_exceeded", message: message, shortDescription: "429")
        case 503:
            return GatewayError(status: .serviceUnavailable, type: "upstream_error", code: "upstream_unavailable", message: message, shortDescription: "503")
        case 504:
            return GatewayError(status: .gatewayTimeout, type: "upstream_error", code: "upstream_timeout", message: message, shortDescription: "504")
        case 400, 404, 413, 422:
            // The request itself was refused: the client can fix it, so it keeps the client-error class.
            return GatewayError(
                status: HTTPResponse.Status(code: status == 404 || status == 422 ? 400 : status),
                type: "invalid_request_error",
                code: "upstream_rejected",
                message: message,
                shortDescription: String(status)
            )
        default:
            return GatewayError(status: .badGateway, type: "upstream_error", code: "upstream_error", message: message, shortDescription: String(status))
        }
    }

    public static func upstreamTimeout(provider: String, phase: String) -> GatewayError {
        GatewayError(
            status: .gatewayTimeout,
            type: "upstream_error",
            code: "upstream_timeout",
            message: "Upstream provider '\(provider)' did not answer in time (\(phase)).",
            shortDescription: "timeout"
        )
    }

    public static func upstreamUnreachable(provider: String, reason: String) -> GatewayError {
        GatewayError(
            status: .badGateway,
            type: "upstream_error",
            code: "upstream_unreachable",
            message: "Upstream provider '\(provider)' could not be reached: \(bounded(reason, to: 200))",
            shortDescription: "connection_error"
        )
    }

    public static func upstreamInvalidResponse(provider: String, reason: String) -> GatewayError {
        GatewayError(
            status: .badGateway,
            type: "upstream_error",
            code: "upstream_invalid_response",
            message: "Upstream provider '\(provider)' sent a response Archway could not read: \(bounded(reason, to: 200))",
            shortDescription: "invalid_response"
        )
    }

    public static func streamInterrupted(provider: String) -> GatewayError {
        GatewayError(
            status: .badGateway,
            type: "upstream_error",
            code: "stream_interrupted",
            message: "The stream from upstream provider '\(provider)' ended before it was complete.",
            shortDescription: "stream_interrupted"
        )
    }

    /// Whether trying the same call again (or another model) can help.
    public var isRetryable: Bool {
        switch shortDescription {
        case "429", "500", "502", "503", "504", "timeout", "connection_error": true
        default: false
        }
    }
}
