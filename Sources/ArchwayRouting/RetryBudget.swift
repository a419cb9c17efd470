import Synchronization

/// Envoy's retry budget for one route: moves to another candidate may be at most `ratio` of the route's
/// requests over the last ten seconds (but always at least `minimum`), so an outage does not turn every
/// request into several and double the load on the candidates still standing.
public final class RetryBudget: Sendable {
    private struct State {
        var requests = SlidingCounter(slots: 10, slotLength: .seconds(1))
        var retries = SlidingCounter(slots: 10, slotLength: .seconds(1))
    }

    private let state = Mutex(State())
    private let origin: ContinuousClock.Instant
    public let ratio: Double
    public let minimum: Int

    public init(ratio: Double = 0.2, minimum: Int = 3, origin: ContinuousClock.Instant = .now) {
        self.ratio = ratio
        self.minimum = minimum
        self.origin = origin
    }

    /// Counts a request of the route (each plan does).
    public func recordRequest(at now: ContinuousClock.Instant) {
        state.withLock { $0.requests.add(at: now, origin: origin) }
    }

    /// Takes one retry from the budget if there is one left.
    public func withdraw(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            let allowed = max(minimum, Int(Double(state.requests.total(at: now)) * ratio))
            guard state.retries.total(at: now) < allowed else { return false }
            state.retries.add(at: now, origin: origin)
            return true
        }
    }
}
