import ArchwayCore
import ArchwayExecution
import NIOCore
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
    private let cut = Atomic<Bool>(false)
    /// Requests dispatched and not yet answered, and when the last answer ended (uptime nanoseconds; 0:
    /// none yet): what the ingress's idle timeout goes by.
    private let inFlight = Atomic<Int>(0)
    private let answeredAt = Atomic<UInt64>(0)
    /// The peer's IP address and port (`network.peer.*` on the SERVER span), read once per connection.
    let peerAddress: String?
    let peerPort: Int?

    init(peer: SocketAddress? = nil) {
        self.peerAddress = peer?.ipAddress
        self.peerPort = peer?.port
    }

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

    func requestDispatched() {
        inFlight.add(1, ordering: .relaxed)
    }

    func requestAnswered() {
        answeredAt.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        inFlight.subtract(1, ordering: .releasing)
    }

    var requestsInFlight: Int { inFlight.load(ordering: .acquiring) }

    var lastAnsweredAt: NIODeadline? {
        let nanoseconds = answeredAt.load(ordering: .relaxed)
        return nanoseconds == 0 ? nil : .uptimeNanoseconds(nanoseconds)
    }

    /// Whether the client has closed its side (or the connection is gone).
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Whether the gateway cut this connection's request (shutdown), rather than the client leaving.
    var wasCut: Bool { cut.load(ordering: .acquiring) }

    /// Whether a request is running on the connection.
    var isBusy: Bool { current.withLock { $0 != nil } }

    /// The gateway stops the request running on the connection: its task is cancelled, and its calls
    /// end as `shutting_down` (`cancellationError`). The connection takes no further request.
    func cutForShutdown() {
        cut.store(true, ordering: .releasing)
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

extension ClientConnection: CancellationCause {
    /// A request cancelled on this connection was cut by the gateway's shutdown, or its client left.
    var cancellationError: GatewayError { wasCut ? .shuttingDown : .clientClosed }
}
