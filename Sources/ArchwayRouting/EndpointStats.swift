public import ArchwayCore
public import ArchwayTelemetry
import Synchronization

/// What the gateway has learned about one configured model from its own calls: sliding-window latency,
/// time to first token, output rate and length, error and 429 rates, calls in flight, rate-limit
/// headroom, consecutive failures and ejection. Fed only by call starts and `AttemptOutcome`s.
public final class EndpointStats: Sendable {
    public let model: String
    private let origin: ContinuousClock.Instant
    private let state: Mutex<State>

    struct State: Sendable {
        var latency = SlidingHistogram()
        var timeToFirstChunk = SlidingHistogram()
        var calls = SlidingCounter()
        var errors = SlidingCounter()
        var rateLimited = SlidingCounter()
        /// Peak-EWMA of the whole call's duration (seconds), for the latency strategy and expected latency.
        var peakLatency = DecayingAverage()
        var peakTimeToFirstChunk = DecayingAverage()
        var outputTokens = DecayingAverage(tau: .seconds(60))
        var outputTokensPerSecond = DecayingAverage()
        var inFlight = 0
        var consecutiveFailures = 0
        var ejectedUntil: ContinuousClock.Instant?
        /// Ejected for its failure rate: it serves its time, since one good answer says little about a
        /// model that fails a share of its calls.
        var ejectedForRate = false
        var ejections = 0
        var recoveredAt: ContinuousClock.Instant?
        var rateLimit: RateLimitHeadroom?
        var successes = 0
        /// Not before this moment, as a provider's `retry-after` asked.
        var notBefore: ContinuousClock.Instant?
    }

    public init(model: String, origin: ContinuousClock.Instant = .now) {
        self.model = model
        self.origin = origin
        self.state = Mutex(State())
    }

    func callStarted() {
        state.withLock { $0.inFlight += 1 }
    }

    /// Folds an outcome in. Returns why the model now meets `rule` (failures in a row, or the share of
    /// recent calls that failed) when it does and is not ejected already: the caller decides whether to
    /// `eject` it (never the last healthy candidate).
    func record(_ outcome: AttemptOutcome, at now: ContinuousClock.Instant, rule: EjectionRule?) -> EjectionRule.Cause? {
        state.withLock { state in
            state.inFlight = max(0, state.inFlight - 1)
            if let headroom = outcome.rateLimit, headroom.isKnown {
                state.rateLimit = headroom
            }
            if outcome.target.purpose == ModelCallTarget.probePurpose {
                // A probe only decides whether an ejection goes on: a one-token ping is no sample of the
                // model's latency, and its failures during an outage are not the model's calls (counted,
                // they ejected it again at its first failure after coming back).
                Self.probed(outcome, at: now, &state)
                return nil
            }
            guard let error = outcome.error else {
                if let until = state.ejectedUntil, until > now, !state.ejectedForRate {
                    // An answer while ejected for an outage: back at once.
                    Self.recover(at: now, &state)
                }
                state.calls.add(at: now, origin: origin)
                state.successes += 1
                state.consecutiveFailures = 0
                state.latency.record(outcome.duration, at: now, origin: origin)
                state.peakLatency.addPeak(outcome.duration.seconds, at: now)
                if let ttfc = outcome.timeToFirstChunk {
                    state.timeToFirstChunk.record(ttfc, at: now, origin: origin)
                    state.peakTimeToFirstChunk.addPeak(ttfc.seconds, at: now)
                }
                if let usage = outcome.usage, outcome.target.operation == .chat {
                    state.outputTokens.add(Double(usage.outputTokens), at: now)
                    let generating = (outcome.duration - (outcome.timeToFirstChunk ?? .zero)).seconds
                    if generating > 0.001, usage.outputTokens > 1 {
                        state.outputTokensPerSecond.add(Double(usage.outputTokens) / generating, at: now)
                    }
                }
                return nil
            }
            // The caller leaving or its own mistake says nothing about the model.
            guard error.allowsFallback else { return nil }
            state.calls.add(at: now, origin: origin)
            state.errors.add(at: now, origin: origin)
            if error.status == .tooManyRequests { state.rateLimited.add(at: now, origin: origin) }
            if let retryAfter = error.retryAfter, retryAfter > .zero {
                // The provider said when to come back: not before then. That holds the model back, and
                // is no outage: it does not count towards an ejection.
                state.notBefore = max(state.notBefore ?? now, now + min(retryAfter, .seconds(60)))
                return nil
            }
            state.consecutiveFailures += 1
            guard let rule, !(state.ejectedUntil.map { $0 > now } ?? false) else { return nil }
            if state.consecutiveFailures >= rule.consecutiveFailures { return .failuresInARow }
            let calls = state.calls.total(at: now)
            if calls >= rule.minCalls, Double(state.errors.total(at: now)) >= rule.failureRate * Double(calls) { return .failureRate }
            return nil
        }
    }

    /// How long a failed probe keeps an outage's ejection going past its time: longer than the probes'
    /// interval, so a model whose last probe failed never comes back for the clock alone.
    public static let probeHold = Duration.seconds(2)

    private static func probed(_ outcome: AttemptOutcome, at now: ContinuousClock.Instant, _ state: inout State) {
        // `probeStarted` kept the ejection going while the probe ran; a timer may fire a moment late.
        guard let until = state.ejectedUntil, until + .seconds(1) > now, !state.ejectedForRate else { return }
        guard let error = outcome.error else {
            // The probe's answer ends an outage's ejection at once.
            recover(at: now, &state)
            return
        }
        if let retryAfter = error.retryAfter, retryAfter > .zero {
            // The provider asked for quiet: no probe until then.
            state.notBefore = max(state.notBefore ?? now, now + min(retryAfter, .seconds(60)))
        }
        // Still failing: it stays out until a probe answers; the ejection's time only bounds how long a model
        // stays out without evidence. One outage is one ejection, not a ladder of short ones that each
        // send clients to a model that is still down.
        if error.allowsFallback { state.ejectedUntil = max(until, now + probeHold) }
    }

    /// A probe of the model starts and may take until `deadline`: an outage's ejection lasts at least that
    /// long, so a model that hangs (its probe fails only at its timeout) is not handed clients meanwhile.
    public func probeStarted(until deadline: ContinuousClock.Instant) {
        state.withLock { state in
            guard let until = state.ejectedUntil, !state.ejectedForRate else { return }
            state.ejectedUntil = max(until, deadline)
        }
    }

    /// Back from an outage's ejection: judged on its calls from now.
    private static func recover(at now: ContinuousClock.Instant, _ state: inout State) {
        state.ejectedUntil = nil
        state.recoveredAt = now
        state.calls = SlidingCounter()
        state.errors = SlidingCounter()
        state.rateLimited = SlidingCounter()
    }

    /// Whether a probe can end the model's ejection now (ejected for an outage; one ejected for its failure
    /// rate serves its time, so probing it is wasted).
    public func awaitsProbe(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            // Not while its provider's `retry-after` holds: probing a provider that asked for quiet keeps it refusing.
            !state.ejectedForRate && (state.ejectedUntil.map { $0 > now } ?? false) && !(state.notBefore.map { $0 > now } ?? false)
        }
    }

    /// Leaves the model out of routing: `base` × 2^(n-1) for its n-th ejection in a row (Envoy's rule),
    /// at most five minutes; the count starts again once it has been back for five minutes.
    func eject(at now: ContinuousClock.Instant, base: Duration, cause: EjectionRule.Cause = .failuresInARow) {
        state.withLock { state in
            state.ejectedForRate = cause == .failureRate
            // Back since: a probe's answer, or the end of its last ejection's time (never during one).
            let back = [state.recoveredAt, state.ejectedUntil].compactMap { $0 }.filter { $0 <= now }.max()
            if let back, back.duration(to: now) > .seconds(300) { state.ejections = 0 }
            state.ejections += 1
            let factor = 1 << min(state.ejections - 1, 6)
            state.ejectedUntil = now + min(base * factor, .seconds(300))
            state.consecutiveFailures = 0
            // Back from ejection, a model is judged on calls made since: the failures that ejected it do
            // not eject it again at its first failure.
            state.calls = SlidingCounter()
            state.errors = SlidingCounter()
            state.rateLimited = SlidingCounter()
        }
    }

    /// Whether the model is left out of routing at `now`.
    public func isEjected(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in state.ejectedUntil.map { $0 > now } ?? false }
    }

    /// Whether a provider's `retry-after` still holds the model back at `now`.
    public func isCoolingDown(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in state.notBefore.map { $0 > now } ?? false }
    }

    /// What is left at `now` of the hold a provider's `retry-after` asked for, if any.
    public func coolingDownFor(at now: ContinuousClock.Instant) -> Duration? {
        state.withLock { state in state.notBefore.flatMap { $0 > now ? now.duration(to: $0) : nil } }
    }

    public func snapshot(at now: ContinuousClock.Instant) -> EndpointSnapshot {
        state.withLock { state in
            let latency = state.latency.merged(at: now)
            let ttfc = state.timeToFirstChunk.merged(at: now)
            let calls = state.calls.total(at: now)
            return EndpointSnapshot(
                model: model,
                samples: Int(latency?.totalCount ?? 0),
                latencyP50: latency.map { .microseconds(Int64($0.valueAtPercentile(50))) },
                latencyP95: latency.map { .microseconds(Int64($0.valueAtPercentile(95))) },
                timeToFirstChunkP50: ttfc.map { .microseconds(Int64($0.valueAtPercentile(50))) },
                timeToFirstChunkP95: ttfc.map { .microseconds(Int64($0.valueAtPercentile(95))) },
                // A slow answer raises the peak at once; with the window's median fast, the peak fades
                // towards it as time passes, chosen or not: one outlier must not keep a model out for as
                // long as nothing else is asked of it.
                peakLatency: state.peakLatency.value(at: now, fadingTowards: latency.map { Double($0.valueAtPercentile(50)) / 1e6 }),
                peakTimeToFirstChunk: state.peakTimeToFirstChunk.value(at: now, fadingTowards: ttfc.map { Double($0.valueAtPercentile(50)) / 1e6 }),
                meanOutputTokens: state.outputTokens.value,
                outputTokensPerSecond: state.outputTokensPerSecond.value,
                calls: calls,
                errorRate: calls > 0 ? Double(state.errors.total(at: now)) / Double(calls) : 0,
                rateLimitedRate: calls > 0 ? Double(state.rateLimited.total(at: now)) / Double(calls) : 0,
                inFlight: state.inFlight,
                consecutiveFailures: state.consecutiveFailures,
                ejected: state.ejectedUntil.map { $0 > now } ?? false,
                ejectedFor: state.ejectedUntil.flatMap { $0 > now ? now.duration(to: $0) : nil },
                ejections: state.ejections,
                recoveredAt: state.recoveredAt,
                rateLimit: state.rateLimit,
                everSucceeded: state.successes > 0
            )
        }
    }
}

/// A model's statistics at one moment, as routing and `GET /admin/routing` read them.
public struct EndpointSnapshot: Sendable {
    public var model: String
    /// Successful calls in the latency window.
    public var samples: Int
    public var latencyP50: Duration?
    public var latencyP95: Duration?
    public var timeToFirstChunkP50: Duration?
    public var timeToFirstChunkP95: Duration?
    /// Peak-EWMA of call duration, seconds.
    public var peakLatency: Double?
    public var peakTimeToFirstChunk: Double?
    public var meanOutputTokens: Double?
    public var outputTokensPerSecond: Double?
    /// Calls that ended in the window (successes and the model's own failures).
    public var calls: Int
    public var errorRate: Double
    public var rateLimitedRate: Double
    public var inFlight: Int
    public var consecutiveFailures: Int
    public var ejected: Bool
    public var ejectedFor: Duration?
    public var ejections: Int
    public var recoveredAt: ContinuousClock.Instant?
    public var rateLimit: RateLimitHeadroom?
    public var everSucceeded: Bool
}
