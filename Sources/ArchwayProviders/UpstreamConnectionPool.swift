import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The upstream connections of one event loop, per origin: idle ones reused last-in first-out, new ones
/// opened up to a limit, requests beyond it queued in order until a connection frees up or their
/// deadline passes. Touched only on its event loop, so it needs no lock.
final class UpstreamConnectionPool: @unchecked Sendable {
    struct Settings: Sendable {
        var connectTimeout: TimeAmount
        var readTimeout: TimeAmount
        var maxConnectionsPerOrigin: Int
        var idleTimeout: TimeAmount
        /// How long a body abandoned before its end may take to end, so its connection is kept: an SSE
        /// stream read to `[DONE]` before its terminating chunk arrived.
        var drainAllowance: TimeAmount = .milliseconds(50)
        /// How soon after a request goes out on a reused connection its close may be replayed
        /// (`UpstreamConnectionHandler`).
        var idleCloseWindow: TimeAmount = .milliseconds(300)
    }

    private struct Origin {
        var idle: [UpstreamConnectionHandler] = []
        var open = 0
        var waiting = CircularBuffer<UpstreamRequest>()
    }

    let eventLoop: any EventLoop
    private let settings: Settings
    private let tls: UpstreamTLS
    private var origins: [UpstreamOrigin: Origin] = [:]
    private var sweep: RepeatedTask?
    private var isShutDown = false

    /// Whether this loop may open connections at all (`max_connections_per_host` can be below the loops).
    var hasConnections: Bool { settings.maxConnectionsPerOrigin > 0 }

    init(eventLoop: any EventLoop, settings: Settings, tls: UpstreamTLS) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.tls = tls
    }

    /// Sends `request` on an idle connection, a new one, or once one frees up.
    func execute(_ request: UpstreamRequest) {
        eventLoop.assertInEventLoop()
        guard !isShutDown else { return request.fail(UpstreamConnectionError.shutdown) }
        guard !request.isAnswered else { return }
        let key = request.origin
        while let connection = origins[key]?.idle.popLast() {
            if connection.isUsable, NIODeadline.now() - connection.idleSince < settings.idleTimeout {
                return connection.start(request)
            }
            connection.close(reason: UpstreamConnectionError.shutdown)
        }
        if origins[key, default: Origin()].open < settings.maxConnectionsPerOrigin {
            return connect(for: request)
        }
        let timer = eventLoop.scheduleTask(deadline: request.deadline) { [self] in
            origins[key]?.waiting.removeAll { $0 === request }
            request.fail(UpstreamConnectionError.deadlineExceeded)
        }
        request.phase = .queued(timer)
        origins[key]!.waiting.append(request)
    }

    /// A request whose reused connection closed before answering it: sent again on a new connection, not
    /// on another pooled one, which the upstream may have dropped alike.
    func retry(_ request: UpstreamRequest) {
        request.phase = .created
        guard !isShutDown, !request.isAnswered, origins[request.origin, default: Origin()].open < settings.maxConnectionsPerOrigin else {
            return execute(request)
        }
        connect(for: request)
    }

    func cancel(_ request: UpstreamRequest) {
        eventLoop.assertInEventLoop()
        switch request.phase {
        case .queued:
            origins[request.origin]?.waiting.removeAll { $0 === request }
            request.fail(CancellationError())
        case .created, .connecting:
            request.fail(CancellationError())
        case .sent(let connection):
            connection.cancel(request)
        case .answered:
            break
        }
    }

    /// A connection that finished an exchange and may be reused.
    func release(_ connection: UpstreamConnectionHandler) {
        guard !isShutDown else { return connection.close(reason: UpstreamConnectionError.shutdown) }
        let key = connection.origin
        if let next = nextWaiting(key) {
            return connection.start(next)
        }
        origins[key]?.idle.append(connection)
        startSweeping()
    }

    func connectionClosed(_ connection: UpstreamConnectionHandler) {
        let key = connection.origin
        guard origins[key] != nil else { return }
        origins[key]!.open -= 1
        if let index = origins[key]!.idle.lastIndex(where: { $0 === connection }) {
            origins[key]!.idle.remove(at: index)
        }
        serveWaiting(key)
    }

    /// Each origin's connections and waiting calls now.
    func counts() -> [UpstreamOrigin: UpstreamConnectionCounts] {
        eventLoop.assertInEventLoop()
        return origins.mapValues { origin in
            UpstreamConnectionCounts(active: origin.open - origin.idle.count, idle: origin.idle.count, waiting: origin.waiting.count)
        }
    }

    /// Closes idle connections and refuses new requests; exchanges in flight finish, then close.
    func shutdown() {
        eventLoop.assertInEventLoop()
        isShutDown = true
        sweep?.cancel()
        for (_, origin) in origins {
            for connection in origin.idle { connection.close(reason: UpstreamConnectionError.shutdown) }
            for request in origin.waiting { request.fail(UpstreamConnectionError.shutdown) }
        }
    }

    private func connect(for request: UpstreamRequest) {
        let key = request.origin
        origins[key, default: Origin()].open += 1
        request.phase = .connecting
        let connection = UpstreamConnectionHandler(
            origin: key, pool: self, readTimeout: settings.readTimeout, drainAllowance: settings.drainAllowance, idleCloseWindow: settings.idleCloseWindow
        )
        let tls: NIOSSLContext?
        do {
            tls = key.tls ? try self.tls.makeContext() : nil
        } catch {
            origins[key]!.open -= 1
            return request.fail(error)
        }
        let serverName = Self.isIPAddress(key.host) ? nil : key.host
        // The call's deadline bounds its connect too: a fallback late in its budget must not wait out a
        // whole connect timeout.
        let untilDeadline = request.deadline - .now()
        let deadlineFirst = untilDeadline < settings.connectTimeout
        ClientBootstrap(group: eventLoop)
            .connectTimeout(deadlineFirst ? max(untilDeadline, .nanoseconds(1)) : settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        enableOutboundHeaderValidation: false,
                        encoderConfiguration: UpstreamRequest.encoderConfiguration
                    )
                    try channel.pipeline.syncOperations.addHandler(connection)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: key.host, port: key.port)
            .whenComplete { [self] result in
                switch result {
                case .success:
                    if request.isAnswered {
                        release(connection)
                    } else {
                        connection.start(request)
                    }
                case .failure(let error):
                    origins[key]?.open -= 1
                    if case ChannelError.connectTimeout = error {
                        request.fail(deadlineFirst ? UpstreamConnectionError.deadlineExceeded : UpstreamConnectionError.connectTimeout)
                    } else {
                        request.fail(UpstreamConnectionError.connectFailed)
                    }
                    serveWaiting(key)
                }
            }
    }

    /// A connection closed or failed to open: the next waiting request, if any, gets a new one.
    private func serveWaiting(_ key: UpstreamOrigin) {
        guard !isShutDown, let origin = origins[key], origin.open < settings.maxConnectionsPerOrigin,
              let next = nextWaiting(key) else { return }
        connect(for: next)
    }

    /// The first waiting request still owed an answer, taken off the queue with its deadline timer.
    private func nextWaiting(_ key: UpstreamOrigin) -> UpstreamRequest? {
        while let next = origins[key]?.waiting.popFirst() {
            if case .queued(let timer) = next.phase { timer.cancel() }
            if !next.isAnswered { return next }
        }
        return nil
    }

    private func startSweeping() {
        guard sweep == nil else { return }
        // A connection lives between the idle timeout and a sixth more: no timer per release, and a
        // burst's connections (and their buffers) are gone soon after it.
        let interval = TimeAmount.nanoseconds(settings.idleTimeout.nanoseconds / 6)
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            let now = NIODeadline.now()
            for (_, origin) in origins {
                for connection in origin.idle where now - connection.idleSince >= settings.idleTimeout {
                    connection.close(reason: UpstreamConnectionError.shutdown)
                }
            }
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber }
    }
}
