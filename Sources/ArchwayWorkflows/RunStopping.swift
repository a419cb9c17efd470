import Synchronization

/// Whether a run is stopping its steps because one failed it (read by the steps it cancels).
final class RunStopping: Sendable {
    private let state = Mutex(false)

    func stop() { state.withLock { $0 = true } }

    var isStopping: Bool { state.withLock { $0 } }
}
