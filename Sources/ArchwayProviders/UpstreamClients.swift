public import ArchwayConfig
public import AsyncHTTPClient
import NIOCore
import NIOPosix
import Synchronization

/// One `HTTPClient` per event loop, each keeping its upstream connections on its own loop.
///
/// `archway serve` runs a request's task on the event loop of the client's connection. A single shared
/// client hands out any idle upstream connection, often one on the other loop, and then every upstream
/// write and read crosses threads (a wake-up each way). With a client per loop, the client's connection,
/// the task and the upstream connection share one thread, and the loops' pools share no lock.
public final class UpstreamClients: Sendable {
    private let loops: [any EventLoop]
    private let clients: [HTTPClient]
    private let next = Atomic<Int>(0)

    /// Clients configured from the upstream settings; `upstream.max_connections_per_host` is shared out
    /// between the loops. Their own tracing is off: Archway makes the HTTP spans.
    public init(settings: UpstreamSettings, group: MultiThreadedEventLoopGroup = .singleton) {
        let loops = Array(group.makeIterator())
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .nanoseconds(settings.connectTimeout.nanoseconds), read: .nanoseconds(settings.firstByteTimeout.nanoseconds))
        )
        configuration.tracing.tracer = nil
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, (settings.maxConnectionsPerHost + loops.count - 1) / loops.count)
        )
        // No `accept-encoding`, so providers answer uncompressed: relayed bodies are read in place and
        // forwarded as they are, and a decompressing handler would sit in every upstream read.
        configuration.decompression = .disabled
        self.loops = loops
        self.clients = loops.map { HTTPClient(eventLoopGroup: $0, configuration: configuration) }
    }

    /// The client of the event loop this code runs on; off the loops (in-process tests), each in turn.
    public var current: HTTPClient {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
            for index in loops.indices where loops[index] === loop {
                return clients[index]
            }
        }
        return clients[next.wrappingAdd(1, ordering: .relaxed).oldValue % clients.count]
    }

    /// Clients for the duration of `body`, shut down after it however it ends (as `HTTPClient.withHTTPClient`).
    public static func with<Value: Sendable>(
        settings: UpstreamSettings,
        _ body: (UpstreamClients) async throws -> Value
    ) async throws -> Value {
        let clients = UpstreamClients(settings: settings)
        let value: Value
        do {
            value = try await body(clients)
        } catch {
            try? await clients.shutdown()
            throw error
        }
        try await clients.shutdown()
        return value
    }

    public func shutdown() async throws {
        for client in clients {
            try await client.shutdown()
        }
    }
}
