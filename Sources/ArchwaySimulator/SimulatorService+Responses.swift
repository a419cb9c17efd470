import ArchwayCore
import ArchwayWire
import Hummingbird
import HTTPTypes
import NIOCore

extension SimulatorService {
    func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: try WireJSON.encode(value)))
    }

    func errorResponse(_ error: GatewayError, shape: ErrorShape) -> Response {
        let body = OpenAIErrorBody(error, anthropicEnvelope: shape == .anthropic)
        // Encoding this flat document cannot fail; the fallback only keeps the compiler satisfied.
        let buffer = (try? WireJSON.encode(body)) ?? ByteBuffer(string: #"{"error":{"message":"simulated error","type":"server_error","param":null,"code":null}}"#)
        return Response(
            status: error.status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: buffer)
        )
    }

    /// The headers of a successful call: OpenAI-style rate-limit accounting that counts down as calls
    /// and tokens are served, plus a request id.
    func successHeaders(tokens: Int, call: Call) -> HTTPFields {
        let limits = state.consume(tokens: tokens)
        return [
            .xRequestID: "req_sim_" + call.idSuffix,
            .rateLimitLimitRequests: String(SimulatorState.RateLimits.requestLimit),
            .rateLimitRemainingRequests: String(limits.remainingRequests),
            .rateLimitResetRequests: "6ms",
            .rateLimitLimitTokens: String(SimulatorState.RateLimits.tokenLimit),
            .rateLimitRemainingTokens: String(limits.remainingTokens),
            .rateLimitResetTokens: "0s",
        ]
    }

    /// Sleeps for a delay unless it is zero; `Task.sleep` ends early (throwing) when the request is cancelled.
    static func pause(_ duration: Duration) async throws {
        if duration > .zero { try await Task.sleep(for: duration) }
    }
}
