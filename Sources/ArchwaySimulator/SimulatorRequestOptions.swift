import ArchwayConfig
import ArchwayCore
import HTTPTypes

/// The behaviour for one request: the simulator's settings with any `x-simulator-*` header overrides.
/// Values are validated and clamped here so that no header can make a `Duration` or status trap.
struct SimulatorRequestOptions: Sendable {
    var latency: Duration
    var timeToFirstToken: Duration
    /// Pause between streamed tokens.
    var tokenInterval: Duration
    var errorRate: Double
    var errorStatus: Int
    var rateLimitRate: Double
    var seed: UInt64
    /// Share of answers that are the reference answer (`SimulatedCompletion`).
    var quality: Double
    /// Answer with the last user message.
    var echo: Bool
    /// End a stream abruptly after this many token chunks.
    var breakAfter: Int?

    /// Longest delay a header may ask for, so a typo cannot park a request for days.
    static let maxDelayMilliseconds = 600_000.0

    /// `HTTPFields` already strips surrounding whitespace from values, so they are parsed as they are.
    init(settings: SimulatorSettings, headers: HTTPFields) throws(GatewayError) {
        latency = Self.clamped(settings.latency)
        timeToFirstToken = Self.clamped(settings.timeToFirstToken)
        tokenInterval = Self.interval(tokensPerSecond: settings.tokensPerSecond)
        errorRate = Self.rate(settings.errorRate)
        errorStatus = (400...599).contains(settings.errorStatus) ? settings.errorStatus : 500
        rateLimitRate = Self.rate(settings.rateLimitRate)
        seed = settings.seed
        quality = Self.rate(settings.quality)
        echo = settings.echo
        breakAfter = nil

        if let value = headers[.simulatorLatency] {
            latency = try Self.milliseconds(value, header: .simulatorLatency)
        }
        if let value = headers[.simulatorTimeToFirstToken] {
            timeToFirstToken = try Self.milliseconds(value, header: .simulatorTimeToFirstToken)
        }
        if let value = headers[.simulatorTokensPerSecond] {
            guard let rate = Double(value), rate.isFinite, rate >= 0 else {
                throw Self.invalid(.simulatorTokensPerSecond, "a number ≥ 0 (0 means no pacing)")
            }
            tokenInterval = Self.interval(tokensPerSecond: rate)
        }
        if let value = headers[.simulatorErrorRate] {
            errorRate = try Self.probability(value, header: .simulatorErrorRate)
        }
        if let value = headers[.simulatorErrorStatus] {
            guard let status = Int(value), (400...599).contains(status) else {
                throw Self.invalid(.simulatorErrorStatus, "an HTTP status from 400 to 599")
            }
            errorStatus = status
        }
        if let value = headers[.simulatorRateLimitRate] {
            rateLimitRate = try Self.probability(value, header: .simulatorRateLimitRate)
        }
        if let value = headers[.simulatorSeed] {
            // Negative seeds are accepted too (some clients only have signed integers).
            guard let parsed = UInt64(value) ?? Int64(value).map(UInt64.init(bitPattern:)) else {
                throw Self.invalid(.simulatorSeed, "an integer")
            }
            seed = parsed
        }
        if let value = headers[.simulatorBreakAfter] {
            guard let count = Int(value), count >= 0 else {
                throw Self.invalid(.simulatorBreakAfter, "a whole number ≥ 0")
            }
            breakAfter = count
        }
    }

    private static func milliseconds(_ value: String, header: HTTPField.Name) throws(GatewayError) -> Duration {
        guard let milliseconds = Double(value), milliseconds.isFinite, milliseconds >= 0 else {
            throw invalid(header, "milliseconds ≥ 0")
        }
        return .milliseconds(min(milliseconds, maxDelayMilliseconds))
    }

    private static func probability(_ value: String, header: HTTPField.Name) throws(GatewayError) -> Double {
        guard let rate = Double(value), (0...1).contains(rate) else {
            throw invalid(header, "a number from 0 to 1")
        }
        return rate
    }

    private static func invalid(_ header: HTTPField.Name, _ expected: String) -> GatewayError {
        .invalidRequest("Invalid \(header.canonicalName) header: expected \(expected).", param: header.canonicalName, code: "invalid_header")
    }

    private static func clamped(_ duration: Duration) -> Duration {
        min(max(duration, .zero), .milliseconds(Int(maxDelayMilliseconds)))
    }

    private static func rate(_ value: Double) -> Double {
        value.isNaN ? 0 : min(max(value, 0), 1)
    }

    static func interval(tokensPerSecond: Double) -> Duration {
        // Zero, negative or absurd rates mean "as fast as possible" rather than a trap in Duration.
        guard tokensPerSecond.isFinite, tokensPerSecond > 0 else { return .zero }
        return .seconds(1 / max(tokensPerSecond, 0.001))
    }
}
