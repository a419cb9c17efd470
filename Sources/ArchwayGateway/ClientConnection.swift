import Synchronization

/// The request running on one client connection, so that the connection's close can cancel it.
///
/// One per connection, owned by its `IngressHandler` (which sees the close) and handed to each request
/// with it: no table lookup or shared lock on a request's path.
final class ClientConnection: Sendable {
    private struct TaskReference: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private let current = Mutex<TaskReference?>(nil)
    private let closed = Atomic<Bool>(false)

    /// Runs `body`; if the client closes the connection meanwhile, the task running it is cancelled.
    func run<Value>(_ body: () async throws -> Value) async throws -> Value {
        // `UnsafeCurrentTask` is valid only while its task runs: it is stored for the duration of `body`
        // and removed under the same lock the close path uses, so a close never touches a finished task.
        let task = withUnsafeCurrentTask { $0 }
        current.withLock { $0 = task.map(TaskReference.init) }
        // Only its own: a pipelined request's task may have taken the slot meanwhile, and must stay
        // cancellable.
        defer { current.withLock { if $0?.task == task { $0 = nil } } }
        if closed.load(ordering: .acquiring) { throw CancellationError() }
        return try await body()
    }

    func clientClosed() {
        closed.store(true, ordering: .releasing)
        current.withLock { $0?.task.cancel() }
    }

    /// Runs `body` so that `connection`'s close cancels it; plainly without one (in-process tests, which
    /// have no connection).
    static func run<Value>(on connection: ClientConnection?, _ body: () async throws -> Value) async throws -> Value {
        guard let connection else { return try await body() }
        return try await connection.run(body)
    }
}
