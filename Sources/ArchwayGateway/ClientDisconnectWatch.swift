import NIOCore
import Synchronization

/// Cancels the current task when the client's connection closes, so an abandoned request stops its
/// upstream call at once, even while the upstream is silent (waiting for a first token), instead of at
/// the next write that fails.
enum ClientDisconnectWatch {
    /// Runs `body`; if `channel` closes before it returns, the task running it is cancelled.
    static func run<Value>(channel: (any Channel)?, _ body: () async throws -> Value) async throws -> Value {
        guard let channel else { return try await body() }
        let armed = withUnsafeCurrentTask { task in Arm(task: task.map(TaskReference.init)) }
        // The close callback may run after `body` returned; disarming under the lock first makes sure it
        // never touches a task that has moved on.
        channel.closeFuture.whenComplete { _ in armed.fire() }
        defer { armed.disarm() }
        return try await body()
    }

    /// `UnsafeCurrentTask` is only valid while its task runs; this box hands it to the close callback
    /// under a lock and forgets it before the task leaves `run`.
    private final class Arm: Sendable {
        private let task: Mutex<TaskReference?>

        init(task: TaskReference?) {
            self.task = Mutex(task)
        }

        func fire() {
            task.withLock { $0?.task.cancel() }
        }

        func disarm() {
            task.withLock { $0 = nil }
        }
    }

    private struct TaskReference: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }
}
