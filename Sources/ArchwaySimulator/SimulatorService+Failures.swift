import ArchwayCore
import Hummingbird
import HTTPTypes

extension SimulatorService {
    enum InjectedFailure: Sendable {
        case error
        case rateLimit
    }

    /// Decides whether this call fails. Each rate is applied as an exact share of the call sequence
    /// (Bresenham-style, with a seed-derived phase) rather than a coin flip: 0.5 alternates, 1 always
    /// fails and 0 never does, so tests can rely on the outcome.
    func injectedFailure(for call: Call) -> InjectedFailure? {
        let options = call.options
        if Self.fires(rate: options.errorRate, number: call.number, phase: Self.phase(seed: options.seed, salt: 1)) {
            return .error
        }
        if Self.fires(rate: options.rateLimitRate, number: call.number, phase: Self.phase(seed: options.seed, salt: 2)) {
            return .rateLimit
        }
        return nil
    }

    static func fires(rate: Double, number: UInt64, phase: Double) -> Bool {
        guard rate > 0 else { return false }
        guard rate < 1 else { return true }
        // Bounded so the products stay exact in a Double.
        let step = Double(number % (1 << 40))
        return ((step + 1) * rate + phase).rounded(.down) > (step * rate + phase).rounded(.down)
    }

    static func phase(seed: UInt64, salt: UInt64) -> Double {
        var random = SplitMix64(seed: seed ^ SplitMix64.mix(salt))
        return random.nextUnit()
    }

    func failureResponse(_ failure: InjectedFailure, call: Call, shape: ErrorShape) -> Response {
        switch failure {
        case .error:
            let status = HTTPResponse.Status(code: call.options.errorStatus)
            let error = GatewayError(
                status: status,
                type: Self.errorType(status: status.code, shape: shape),
                code: "simulated",
                message: "simulated upstream failure",
                shortDescription: String(status.code)
            )
            return errorResponse(error, shape: shape)
        case .rateLimit:
            let error = GatewayError(
                status: .tooManyRequests,
                type: "rate_limit_error",
                code: "rate_limit_exceeded",
                message: "simulated rate limit exceeded",
                shortDescription: "429"
            )
            var response = errorResponse(error, shape: shape)
            response.headers[.retryAfter] = "1"
            response.headers[.rateLimitLimitRequests] = String(SimulatorState.RateLimits.requestLimit)
            response.headers[.rateLimitRemainingRequests] = "0"
            response.headers[.rateLimitResetRequests] = "1s"
            return response
        }
    }

    /// The error `type` a real provider would send with this status.
    static func errorType(status: Int, shape: ErrorShape) -> String {
        switch (status, shape) {
        case (401, _): "authentication_error"
        case (403, _): "permission_error"
        case (404, .anthropic): "not_found_error"
        case (429, _): "rate_limit_error"
        case (529, .anthropic), (503, .anthropic): "overloaded_error"
        case (500..., .anthropic): "api_error"
        case (500..., .openAI): "server_error"
        default: "invalid_request_error"
        }
    }
}
