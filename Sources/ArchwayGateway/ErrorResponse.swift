import ArchwayCore
import ArchwayExecution
import ArchwayWire
import Hummingbird
import NIOCore

/// Every error a client sees has the OpenAI error shape (Anthropic's envelope on the Anthropic route),
/// whether the gateway threw it or Hummingbird did.
extension GatewayError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(anthropicEnvelope: Self.isAnthropicPath(request.uri.path))
    }
}

extension GatewayError {
    /// Whether a path is the Anthropic wire's (`/v1/messages` and what Anthropic serves below it, such as
    /// `count_tokens`), whose clients read Anthropic's error envelope. Read as the router reads it: empty
    /// segments (`//v1/messages`) do not count.
    static func isAnthropicPath(_ path: String) -> Bool {
        var segments = path.utf8.split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: true).makeIterator()
        return segments.next()?.elementsEqual("v1".utf8) == true && segments.next()?.elementsEqual("messages".utf8) == true
    }
}

extension GatewayError {
    /// The OpenAI-shaped error response (with Anthropic's envelope on the Anthropic route).
    func response(anthropicEnvelope: Bool = false) -> Response {
        let body = body(anthropicEnvelope: anthropicEnvelope)
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .tooManyRequests {
            // The provider's own wait when it gave one (whole seconds, rounded up), else a second.
            let seconds = retryAfter.map(GatewayError.wholeSeconds) ?? 1
            headers[.retryAfter] = String(seconds)
        }
        if let route { headers[CallDecisions.routeHeader] = route }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The OpenAI error document's bytes (with Anthropic's envelope on the Anthropic route).
    func body(anthropicEnvelope: Bool = false) -> ByteBuffer {
        (try? WireJSON.encode(OpenAIErrorBody(self, anthropicEnvelope: anthropicEnvelope)))
            ?? ByteBuffer(string: #"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#)
    }

    /// Maps anything thrown while handling a request to a client-facing error.
    static func from(_ error: any Error, path: String) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case is NIOTooManyBytesError:
            return .payloadTooLarge(limit: 0)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound(path: path)
            case .methodNotAllowed: return .methodNotAllowed
            case .contentTooLarge: return .payloadTooLarge(limit: 0)
            case let status where (400..<500).contains(status.code):
                return .invalidRequest(error.body ?? "The request could not be handled.")
            default:
                return GatewayError(error)
            }
        default:
            return GatewayError(error)
        }
    }
}

/// Turns every error thrown by the routes (and by Hummingbird's router) into the OpenAI error shape.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let path = request.uri.path
            return GatewayError.from(error, path: path).response(anthropicEnvelope: GatewayError.isAnthropicPath(path))
        }
    }
}

extension Response {
    static func json(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: buffer))
    }
}
