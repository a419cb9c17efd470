import NIOCore
import Synchronization

/// Ends the work of a connection whose client went away.
///
/// Hummingbird allows half-closed connections, so a client that leaves only shows as end of input, and
/// nothing would notice until a write failed (or, while an upstream is silent, not at all). Like other
/// proxies, Archway treats the client's end of input as an abort: this handler cancels the request in
/// flight on the connection (which cancels its upstream call) and closes the channel.
///
/// One instance per connection; requests find theirs through `ClientConnections`.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = Any

    let connection = ClientConnection()

    func handlerAdded(context: ChannelHandlerContext) {
        ClientConnections.register(connection, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ClientConnections.remove(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.clientClosed()
        ClientConnections.remove(context.channel)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connection.clientClosed()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The request running on one client connection, so that the connection's close can cancel it.
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
        withUnsafeCurrentTask { task in
            current.withLock { $0 = task.map(TaskReference.init) }
        }
        defer { current.withLock { $0 = nil } }
        if closed.load(ordering: .acquiring) { throw CancellationError() }
        return try await body()
    }

    func clientClosed() {
        closed.store(true, ordering: .releasing)
        current.withLock { $0?.task.cancel() }
    }
}

/// Connections by channel, for requests to find their `ClientConnection`.
enum ClientConnections {
    private static let table = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    static func register(_ connection: ClientConnection, for channel: any Channel) {
        table.withLock { $0[ObjectIdentifier(channel)] = connection }
    }

    static func remove(_ channel: any Channel) {
        _ = table.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Runs `body` so that the client closing `channel` cancels it; runs it plainly without a channel
    /// (in-process tests) or for a connection this gateway did not set up.
    static func run<Value>(on channel: (any Channel)?, _ body: () async throws -> Value) async throws -> Value {
        guard let channel, let connection = table.withLock({ $0[ObjectIdentifier(channel)] }) else {
            return try await body()
        }
        return try await connection.run(body)
    }
}
