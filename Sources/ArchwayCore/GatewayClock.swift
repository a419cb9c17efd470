/// The monotonic clock the execution layer measures calls with. Injected so tests control time
/// (durations, time to first chunk, deadlines) instead of sleeping.
public protocol GatewayClock: Sendable {
    var now: ContinuousClock.Instant { get }
}

/// The process's monotonic clock.
public struct SystemClock: GatewayClock {
    public init() {}

    @inlinable
    public var now: ContinuousClock.Instant { .now }
}
