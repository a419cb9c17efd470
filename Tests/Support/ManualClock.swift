public import ArchwayCore
import Synchronization

/// A monotonic clock the test moves by hand, for the execution layer (`GatewayClock`) and routing
/// statistics (`now`).
public final class ManualClock: GatewayClock {
    private let base = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    public init() {}

    public var now: ContinuousClock.Instant { base + offset.withLock { $0 } }

    public func advance(by duration: Duration) {
        offset.withLock { $0 += duration }
    }
}
