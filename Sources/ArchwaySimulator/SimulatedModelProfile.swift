import ArchwayCore

/// How one model behaves, set at run time with `PUT /_simulator/models/{model}` (and cleared with
/// `DELETE`): down (every call 503), or its own latency, time to first token, token rate and error
/// rate, over the simulator's settings and any `x-simulator-*` headers. Routing tests and benchmarks
/// use it to take a model down and up, slow it, or make it fail.
struct SimulatedModelProfile: Sendable, Codable, Hashable {
    var down: Bool?
    var latencyMs: Double?
    var ttftMs: Double?
    var tokensPerSecond: Double?
    var errorRate: Double?
    var errorStatus: Int?
    /// Share of answers that are the reference answer; the rest drift (a different text).
    var quality: Double?

    enum CodingKeys: String, CodingKey {
        case down
        case latencyMs = "latency_ms"
        case ttftMs = "ttft_ms"
        case tokensPerSecond = "tokens_per_second"
        case errorRate = "error_rate"
        case errorStatus = "error_status"
        case quality
    }

    /// Applies the profile; values are clamped as header overrides are.
    func apply(to options: inout SimulatorRequestOptions) {
        if down == true {
            options.errorRate = 1
            options.errorStatus = 503
        }
        if let latencyMs, latencyMs.isFinite, latencyMs >= 0 {
            options.latency = .milliseconds(Int64(min(latencyMs, SimulatorRequestOptions.maxDelayMilliseconds)))
        }
        if let ttftMs, ttftMs.isFinite, ttftMs >= 0 {
            options.timeToFirstToken = .milliseconds(Int64(min(ttftMs, SimulatorRequestOptions.maxDelayMilliseconds)))
        }
        if let tokensPerSecond, tokensPerSecond.isFinite, tokensPerSecond >= 0 {
            options.tokenInterval = SimulatorRequestOptions.interval(tokensPerSecond: tokensPerSecond)
        }
        if down != true, let errorRate, errorRate.isFinite {
            options.errorRate = min(max(errorRate, 0), 1)
        }
        if down != true, let errorStatus, (400...599).contains(errorStatus) {
            options.errorStatus = errorStatus
        }
        if let quality, quality.isFinite {
            options.quality = min(max(quality, 0), 1)
        }
    }
}
