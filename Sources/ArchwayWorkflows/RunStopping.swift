import ArchwayCore
import ArchwayExecution
import Synchronization

/// Whether a run is stopping its steps because one failed it (read by the steps it cancels).
final class RunStopping: Sendable {
    private let state = Mutex(false)

    func stop() { state.withLock { $0 = true } }

    var isStopping: Bool { state.withLock { $0 } }
}

/// What stopped a step's model call when it was cancelled: the run's deadline, another step's failure,
/// or (otherwise) what stopped the caller: its client leaving, or the gateway's shutdown.
struct StepCancellation: CancellationCause {
    let clock: any GatewayClock
    let runDeadline: ContinuousClock.Instant
    let stopping: RunStopping
    let caller: (any CancellationCause)?

    var cancellationError: GatewayError {
        if clock.now >= runDeadline { return .deadlineExceeded }
        return stopping.isStopping ? .stoppedByRun : caller?.cancellationError ?? .clientClosed
    }
}
