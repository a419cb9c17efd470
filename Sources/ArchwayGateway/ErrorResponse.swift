import ArchwayCore
import ArchwayWire
import Hummingbird
import NIOCore

extension GatewayError {
    /// The OpenAI-shaped error response (with Anthropic's envelope on the Anthropic route).
    func response(anthropicEnvelope: Bool = false) -> Response {
        let body = (try? WireJSON.encode(OpenAIErrorBody(self, anthropicEnvelope: anthropicEnvelope)))
            ?? ByteBuffer(string: #"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#)
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .tooManyRequests { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// Maps anything thrown while handling a request to a client-facing error.
    static func from(_ error: any Error) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case is CancellationError:
            return GatewayError(status: .init(code: 499), type: "client_error", code: "client_closed", message: "The client closed the request.", shortDescription: "client_closed")
        case is NIOTooManyBytesError:
            return .payloadTooLarge(limit: 0)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound(path: "")
            case .methodNotAllowed:
                return GatewayError(status: .methodNotAllowed, type: "invalid_request_error", code: "method_not_allowed", message: "Method not allowed.", shortDescription: "method_not_allowed")
            case .contentTooLarge: return .payloadTooLarge(limit: 0)
            default:
                return GatewayError(status: error.status, type: "invalid_request_error", message: error.body ?? "Request failed.", shortDescription: String(error.status.code))
            }
        default:
            return .internalError("The gateway failed to handle the request.")
        }
    }
}

extension Response {
    static func json(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }
}
