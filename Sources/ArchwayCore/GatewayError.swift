public import HTTPTypes

/// An error a client can see. It carries everything needed to answer in the OpenAI error shape
/// and a bounded `shortDescription` that is safe to use as a metric label or `error.type`.
///
/// What the gateway does with an error (retry it, try another model) is decided by its private
/// `Kind`, never by its label strings, as AsyncHTTPClient's `HTTPClientError` does with its code.
public struct GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case invalidRequest
        case invalidJSON
        case invalidBody
        case modelNotFound
        case payloadTooLarge
        case unsupported
        case unknownURL
        case methodNotAllowed
        case unauthorized
        case internalError
        case shuttingDown
        case clientClosed
        case deadlineExceeded
        case providerNotReady
        case stageFailed
        case upstreamStatus(Int)
        case upstreamNotFound
        case upstreamTimeout
        case upstreamUnreachable
        case upstreamInvalidResponse
        case streamInterrupted
        /// Made with the public initialiser (simulated errors, wire-level relays): never retried.
        case custom
    }

    private var kind: Kind
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
    /// How long the upstream asked to wait before trying again (its `retry-after`), when it said.
    public var retryAfter: Duration?
    /// The upstream's rate-limit headroom, when its refusal carried it.
    public var rateLimit: RateLimitHeadroom?
    /// The route that decided the failed call, when one did: its answer names it (`x-archway-route`), as a
    /// successful one does.
    public var route: String?
    /// The message without the part the upstream wrote (which may quote the request's content), for
    /// where content may not go; nil when the message has none.
    private var summary: String?

    /// `message` without what the upstream wrote.
    public var messageWithoutExcerpt: String { summary ?? message }

    public init(
        status: HTTPResponse.Status,
        type: String,
        code: String? = nil,
        param: String? = nil,
        message: String,
        shortDescription: String? = nil
    ) {
        self.init(.custom, status: status, type: type, code: code, param: param, message: message, shortDescription: shortDescription)
    }

    private init(
        _ kind: Kind,
        status: HTTPResponse.Status,
        type: String,
        code: String? = nil,
        param: String? = nil,
        message: String,
        shortDescription: String? = nil
    ) {
        self.kind = kind
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

// MARK: - What the gateway does with an error

extension GatewayError {
    /// Whether trying the same model again can help: rate limits, server errors, timeouts, connection errors.
    public var isRetryable: Bool {
        switch kind {
        case .upstreamStatus(let status): status == 429 || status >= 500
        case .upstreamTimeout, .upstreamUnreachable: true
        default: false
        }
    }

    /// Whether another model could answer instead: everything retryable, plus failures of this provider
    /// alone (an unreadable answer, a broken stream, a wrong base URL or model id, a provider not up yet).
    /// A client's own mistake (4xx) never moves on: every model would refuse it the same way.
    public var allowsFallback: Bool {
        switch kind {
        case .upstreamInvalidResponse, .streamInterrupted, .upstreamNotFound, .providerNotReady: true
        default: isRetryable
        }
    }

    /// The client went away (or its request was cancelled): not a failure of any model.
    public var isClientClosed: Bool { kind == .clientClosed }

    /// The gateway's shutdown cut the answer.
    public var isShuttingDown: Bool { kind == .shuttingDown }
}

// MARK: - Client errors

extension GatewayError {
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(.invalidRequest, status: .badRequest, type: "invalid_request_error", code: code, param: param, message: message, shortDescription: "invalid_request")
    }

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(
            .invalidJSON,
            status: .badRequest,
            type: "invalid_request_error",
            code: "invalid_json",
            message: "The request body is not valid JSON: \(detail)",
            shortDescription: "invalid_json"
        )
    }

    /// The request body could not be read (a malformed chunked encoding, a connection error mid-body).
    public static func invalidBody(_ detail: String) -> GatewayError {
        GatewayError(
            .invalidBody,
            status: .badRequest,
            type: "invalid_request_error",
            code: "invalid_body",
            message: "The request body could not be read: \(bounded(detail, to: 200))",
            shortDescription: "invalid_body"
        )
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(
            .modelNotFound,
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
            .payloadTooLarge,
            status: .contentTooLarge,
            type: "invalid_request_error",
            code: "request_too_large",
            message: limit > 0 ? "The request body exceeds the limit of \(limit) bytes." : "The request body is too large.",
            shortDescription: "request_too_large"
        )
    }

    /// A request whose body did not arrive within `server.read_timeout` of its head.
    public static func requestTimeout(afterSeconds seconds: Int64) -> GatewayError {
        GatewayError(
            .invalidBody,
            status: .requestTimeout,
            type: "invalid_request_error",
            code: "request_timeout",
            message: "The request's body did not arrive within \(seconds) s of its head (server.read_timeout).",
            shortDescription: "request_timeout"
        )
    }

    /// A request body sent with a `Content-Encoding` (gzip, say): bodies are read as they come.
    public static let encodedBody = GatewayError(
        .invalidBody,
        status: .unsupportedMediaType,
        type: "invalid_request_error",
        code: "unsupported_content_encoding",
        message: "The request body has a Content-Encoding; Archway reads request bodies unencoded only.",
        shortDescription: "unsupported_content_encoding"
    )

    public static func unsupported(_ message: String, param: String? = nil) -> GatewayError {
        GatewayError(.unsupported, status: .badRequest, type: "invalid_request_error", code: "unsupported", param: param, message: message, shortDescription: "unsupported")
    }

    public static func notFound(path: String) -> GatewayError {
        GatewayError(
            .unknownURL,
            status: .notFound,
            type: "invalid_request_error",
            code: "unknown_url",
            message: "Unknown request URL: \(bounded(path, to: 200)).",
            shortDescription: "unknown_url"
        )
    }

    public static let methodNotAllowed = GatewayError(
        .methodNotAllowed,
        status: .methodNotAllowed,
        type: "invalid_request_error",
        code: "method_not_allowed",
        message: "Method not allowed.",
        shortDescription: "method_not_allowed"
    )

    /// A path the gateway serves, asked with a method it does not serve it with; `allowed` is what the
    /// answer's `Allow` header lists.
    public static func methodNotAllowed(_ method: String, path: String, allowed: String) -> GatewayError {
        GatewayError(
            .methodNotAllowed,
            status: .methodNotAllowed,
            type: "invalid_request_error",
            code: "method_not_allowed",
            message: "\(bounded(method, to: 32)) is not allowed on \(bounded(path, to: 200)); use \(allowed).",
            shortDescription: "method_not_allowed"
        )
    }

    public static func unauthorized(_ message: String) -> GatewayError {
        GatewayError(.unauthorized, status: .unauthorized, type: "authentication_error", code: "invalid_api_key", message: message, shortDescription: "unauthorized")
    }

    public static func internalError(_ message: String) -> GatewayError {
        GatewayError(.internalError, status: .internalServerError, type: "server_error", code: "internal_error", message: message, shortDescription: "internal")
    }

    public static let shuttingDown = GatewayError(
        .shuttingDown,
        status: .serviceUnavailable,
        type: "server_error",
        code: "shutting_down",
        message: "The gateway is shutting down; retry the request.",
        shortDescription: "shutting_down"
    )

    /// The client closed the connection, or the call was cancelled on its behalf (499, as nginx logs it).
    public static let clientClosed = GatewayError(
        .clientClosed,
        status: .init(code: 499),
        type: "client_error",
        code: "client_closed",
        message: "The client closed the request.",
        shortDescription: "client_closed"
    )

    /// The gateway's own work stopped the call (a workflow step stopped because another failed the run):
    /// not the client, not the model. Recorded on spans and metrics; no client is answered with it.
    public static let stoppedByRun = GatewayError(
        status: .init(code: 499),
        type: "server_error",
        code: "cancelled",
        message: "The call was stopped because the run it belonged to failed.",
        shortDescription: "cancelled"
    )

    /// The caller's deadline (a workflow's remaining budget, the route's timeout) passed before an answer.
    public static let deadlineExceeded = GatewayError(
        .deadlineExceeded,
        status: .gatewayTimeout,
        type: "upstream_error",
        code: "deadline_exceeded",
        message: "The call's deadline passed before a model answered.",
        // Not `timeout`: the caller's budget ran out, which dashboards and SLOs must tell apart from a
        // model that timed out.
        shortDescription: "deadline_exceeded"
    )
}

// MARK: - Upstream errors

extension GatewayError {
    /// The upstream answered with an error status. `excerpt` is a short, credential-free part of its message.
    /// `inStream`: the upstream answered 200 and then sent an error event, which maps to the status it
    /// stands for (Anthropic's `overloaded_error` to 503) but is not called an HTTP answer.
    public static func upstreamStatus(_ status: Int, provider: String, excerpt: String?, inStream: Bool = false) -> GatewayError {
        let detail = excerpt.map { ": \(bounded($0, to: 300))" } ?? ""
        let summary = inStream
            ? "Upstream provider '\(provider)' sent an error event in its stream"
            : "Upstream provider '\(provider)' answered HTTP \(status)"
        var error = upstreamStatusError(status, message: summary + detail)
        if excerpt != nil { error.summary = summary }
        return error
    }

    private static func upstreamStatusError(_ status: Int, message: String) -> GatewayError {
        switch status {
        case 429:
            return GatewayError(.upstreamStatus(status), status: .tooManyRequests, type: "rate_limit_error", code: "rate_limit_exceeded", message: message, shortDescription: "429")
        case 503:
            return GatewayError(.upstreamStatus(status), status: .serviceUnavailable, type: "upstream_error", code: "upstream_unavailable", message: message, shortDescription: "503")
        case 504:
            return GatewayError(.upstreamStatus(status), status: .gatewayTimeout, type: "upstream_error", code: "upstream_timeout", message: message, shortDescription: "504")
        case 400, 413, 422:
            // The request itself was refused: the client can fix it, so it keeps the client-error class.
            return GatewayError(
                .upstreamStatus(status),
                status: HTTPResponse.Status(code: status == 422 ? 400 : status),
                type: "invalid_request_error",
                code: "upstream_rejected",
                message: message,
                shortDescription: String(status)
            )
        default:
            return GatewayError(.upstreamStatus(status), status: .badGateway, type: "upstream_error", code: "upstream_error", message: message, shortDescription: String(status))
        }
    }

    /// Every candidate of a route is held back by its provider's `retry-after`: answered by the gateway,
    /// with what is left of the shortest hold, without calling them.
    public static func routeHeldBack(route: String, for wait: Duration) -> GatewayError {
        let seconds = wholeSeconds(wait)
        var error = GatewayError(
            .upstreamStatus(429),
            status: .tooManyRequests,
            type: "rate_limit_error",
            code: "rate_limit_exceeded",
            message: "Every candidate of route '\(bounded(route, to: 64))' is held back by its provider's retry-after; retry in \(seconds) s.",
            shortDescription: "429"
        )
        error.retryAfter = .seconds(seconds)
        error.route = route
        return error
    }

    /// A wait as the `Retry-After` header says it: whole seconds, rounded up, at least one.
    public static func wholeSeconds(_ wait: Duration) -> Int {
        max(1, Int((wait / .seconds(1)).rounded(.up)))
    }

    /// The upstream answered 404: a wrong base URL or model id in the gateway's configuration, not the
    /// client's fault. Names the provider, the path and the upstream model (never the key).
    public static func upstreamNotFound(provider: String, path: String, model: String) -> GatewayError {
        GatewayError(
            .upstreamNotFound,
            status: .badGateway,
            type: "upstream_error",
            code: "upstream_not_found",
            message: "Upstream provider '\(provider)' answered HTTP 404 for \(bounded(path, to: 200)) (upstream model '\(bounded(model, to: 200))'): check the provider's base_url and the model's upstream id in the gateway's configuration.",
            shortDescription: "404"
        )
    }

    public static func upstreamTimeout(provider: String, phase: String) -> GatewayError {
        GatewayError(
            .upstreamTimeout,
            status: .gatewayTimeout,
            type: "upstream_error",
            code: "upstream_timeout",
            message: "Upstream provider '\(provider)' did not answer in time (\(phase)).",
            shortDescription: "timeout"
        )
    }

    public static func upstreamUnreachable(provider: String, reason: String) -> GatewayError {
        GatewayError(
            .upstreamUnreachable,
            status: .badGateway,
            type: "upstream_error",
            code: "upstream_unreachable",
            message: "Upstream provider '\(provider)' could not be reached: \(bounded(reason, to: 200))",
            shortDescription: "connection_error"
        )
    }

    public static func upstreamInvalidResponse(provider: String, reason: String) -> GatewayError {
        GatewayError(
            .upstreamInvalidResponse,
            status: .badGateway,
            type: "upstream_error",
            code: "upstream_invalid_response",
            message: "Upstream provider '\(provider)' sent a response Archway could not read: \(bounded(reason, to: 200))",
            shortDescription: "invalid_response"
        )
    }

    public static func streamInterrupted(provider: String) -> GatewayError {
        GatewayError(
            .streamInterrupted,
            status: .badGateway,
            type: "upstream_error",
            code: "stream_interrupted",
            message: "The answer from upstream provider '\(provider)' ended before it was complete.",
            shortDescription: "stream_interrupted"
        )
    }

    /// A stage around the call (policy, cache, budget) failed: the call is refused, never sent unchecked.
    public static func stageFailed(_ stage: String) -> GatewayError {
        GatewayError(
            .stageFailed,
            status: .serviceUnavailable,
            type: "server_error",
            code: "stage_failed",
            message: "The gateway's '\(bounded(stage, to: 64))' check failed, so the request was not sent.",
            shortDescription: "stage_failed"
        )
    }

    /// A configured provider that cannot take calls yet (an embedded simulator still starting).
    public static func providerNotReady(_ provider: String) -> GatewayError {
        GatewayError(
            .providerNotReady,
            status: .serviceUnavailable,
            type: "upstream_error",
            code: "provider_not_ready",
            message: "Provider '\(bounded(provider, to: 200))' is not ready.",
            shortDescription: "provider_not_ready"
        )
    }
}

extension GatewayError {
    /// The client-facing error for anything a call threw: itself when it is one, `client_closed` for
    /// cancellation, otherwise an internal error (whose details stay out of the answer).
    public init(_ error: any Error) {
        switch error {
        case let error as GatewayError: self = error
        case is CancellationError: self = .clientClosed
        default: self = .internalError("The gateway failed to handle the request.")
        }
    }
}
