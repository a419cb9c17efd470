public import ArchwayConfig
public import NIOCore
public import NIOHTTP1
import NIOPosix
public import NIOSSL
import Synchronization

/// Archway's upstream HTTP/1.1 client: a connection pool per event loop, keeping each model call's
/// upstream connection on the loop its task runs on.
///
/// `archway serve` runs a request's task on the event loop of the client's connection, so the client's
/// connection, the task and the upstream connection share one thread: no lock, no wake-up of another
/// thread per read or write. Each exchange is one flush out under its connection's timer; its answer's
/// head resumes the caller once, and its body streams with back-pressure, or arrives whole with the answer
/// when the caller wants it whole.
public final class UpstreamClients: Sendable {
    private let pools: [UpstreamConnectionPool]
    private let next = Atomic<Int>(0)

    /// - Parameters:
    ///   - settings: timeouts; `max_connections_per_host` is shared out between the loops, exactly.
    ///   - tlsConfiguration: for `https` upstreams (the system's trust roots by default); HTTP/1.1 is
    ///     the only protocol offered.
    public convenience init(
        settings: UpstreamSettings,
        group: MultiThreadedEventLoopGroup = .singleton,
        tlsConfiguration: TLSConfiguration = .makeClientConfiguration()
    ) {
        self.init(settings: settings, group: group, tlsConfiguration: tlsConfiguration, idleTimeout: .seconds(60))
    }

    /// - Parameters:
    ///   - idleTimeout: how long an unused connection stays pooled.
    ///   - drainAllowance: how long a body abandoned before its end may take to end and keep its connection.
    ///   - idleCloseWindow: how soon after a request goes out a reused connection's close may be replayed.
    init(
        settings: UpstreamSettings,
        group: MultiThreadedEventLoopGroup,
        tlsConfiguration: TLSConfiguration,
        idleTimeout: TimeAmount,
        drainAllowance: TimeAmount = .milliseconds(50),
        idleCloseWindow: TimeAmount = .milliseconds(300)
    ) {
        let loops = Array(group.makeIterator())
        let tls = UpstreamTLS(configuration: tlsConfiguration)
        // Each loop gets its share of the limit, the first ones one more, so the shares add up to the limit
        // itself; with fewer connections than loops, the loops past it get none and send elsewhere.
        let limit = settings.maxConnectionsPerHost
        self.pools = loops.enumerated().map { index, loop in
            let pool = UpstreamConnectionPool.Settings(
                connectTimeout: .nanoseconds(settings.connectTimeout.nanoseconds),
                readTimeout: .nanoseconds(settings.firstByteTimeout.nanoseconds),
                maxConnectionsPerOrigin: limit / loops.count + (index < limit % loops.count ? 1 : 0),
                idleTimeout: idleTimeout,
                drainAllowance: drainAllowance,
                idleCloseWindow: idleCloseWindow
            )
            return UpstreamConnectionPool(eventLoop: loop, settings: pool, tls: tls)
        }
    }

    /// The pool of the event loop this code runs on; off the loops (in-process tests), each in turn. A loop
    /// without connections of its own (`max_connections_per_host` below the loops) sends its calls to one
    /// of the loops that have them, the same one for an origin, so its calls queue in one place.
    private func pool(for origin: UpstreamOrigin) -> UpstreamConnectionPool {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop
        let pool = loop.flatMap { loop in pools.first { $0.eventLoop === loop } }
            ?? pools[next.wrappingAdd(1, ordering: .relaxed).oldValue % pools.count]
        if pool.hasConnections { return pool }
        let owners = pools.prefix { $0.hasConnections }
        return owners[owners.startIndex + Int(UInt(bitPattern: origin.hashValue) % UInt(owners.count))]
    }

    /// Sends one request and returns once the upstream's head has arrived. Cancelling the task closes
    /// the exchange's connection. Throws `UpstreamConnectionError` or `CancellationError`.
    ///
    /// - Parameter collectLimit: when set, returns once the whole body has arrived instead, collected on
    ///   the connection (one resumption of the caller, no body sequence). A body past the limit, or cut
    ///   short, throws from the response's body as a streamed one would.
    public func execute(
        origin: UpstreamOrigin,
        head: HTTPRequestHead,
        body: ByteBuffer,
        deadline: NIODeadline,
        collectLimit: Int? = nil
    ) async throws -> UpstreamResponse {
        let pool = pool(for: origin)
        let request = UpstreamRequest(origin: origin, head: head, body: body, deadline: deadline, collectLimit: collectLimit)
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                if pool.eventLoop.inEventLoop {
                    request.wait(continuation)
                    pool.execute(request)
                } else {
                    // A cancellation's job may reach the loop first: it answers the request, and `wait`
                    // then resumes at once.
                    pool.eventLoop.execute {
                        request.wait(continuation)
                        pool.execute(request)
                    }
                }
            }
        } onCancel: {
            pool.eventLoop.execute { pool.cancel(request) }
        }
    }

    /// Each upstream origin's connections and waiting calls, summed over the event loops.
    public func connectionCounts() async throws -> [UpstreamOrigin: UpstreamConnectionCounts] {
        var total: [UpstreamOrigin: UpstreamConnectionCounts] = [:]
        for pool in pools {
            for (origin, counts) in try await pool.eventLoop.submit({ pool.counts() }).get() {
                total[origin, default: UpstreamConnectionCounts()].active += counts.active
                total[origin, default: UpstreamConnectionCounts()].idle += counts.idle
                total[origin, default: UpstreamConnectionCounts()].waiting += counts.waiting
            }
        }
        return total
    }

    /// Clients for the duration of `body`, shut down after it however it ends.
    public static func with<Value: Sendable>(
        settings: UpstreamSettings,
        tlsConfiguration: TLSConfiguration = .makeClientConfiguration(),
        _ body: (UpstreamClients) async throws -> Value
    ) async throws -> Value {
        let clients = UpstreamClients(settings: settings, tlsConfiguration: tlsConfiguration)
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

    /// Closes idle connections and refuses new requests; exchanges in flight finish first.
    public func shutdown() async throws {
        for pool in pools {
            try await pool.eventLoop.submit { pool.shutdown() }.get()
        }
    }
}
