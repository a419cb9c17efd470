import ArchwayConfig
@testable import ArchwayProviders
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One event loop, so every call of a test shares one pool and connection counts are exact.
private func withClients<Value: Sendable>(
    _ settings: UpstreamSettings = UpstreamSettings(),
    tls: TLSConfiguration = .makeClientConfiguration(),
    idleTimeout: TimeAmount = .seconds(60),
    drainAllowance: TimeAmount = .milliseconds(50),
    // Wider than production's 300 ms: a busy test run can take that long to see a close.
    idleCloseWindow: TimeAmount = .seconds(2),
    _ body: @Sendable (UpstreamClients) async throws -> Value
) async throws -> Value {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let clients = UpstreamClients(settings: settings, group: group, tlsConfiguration: tls, idleTimeout: idleTimeout, drainAllowance: drainAllowance, idleCloseWindow: idleCloseWindow)
    let value: Result<Value, any Error>
    do {
        value = .success(try await body(clients))
    } catch {
        value = .failure(error)
    }
    try await clients.shutdown()
    try await group.shutdownGracefully()
    return try value.get()
}

private func call(
    _ clients: UpstreamClients,
    _ origin: UpstreamOrigin,
    deadline: TimeAmount = .seconds(5),
    collectLimit: Int? = nil
) async throws -> UpstreamResponse {
    let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/chat/completions", headers: ["host": origin.hostHeader, "content-length": "2"])
    return try await clients.execute(origin: origin, head: head, body: ByteBuffer(string: "{}"), deadline: .now() + deadline, collectLimit: collectLimit)
}

/// A client configuration that trusts `root` and nothing else.
private func trustingTLS(_ root: NIOSSLCertificate) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.trustRoots = .certificates([root])
    return configuration
}

private func isCollected(_ body: UpstreamResponseBody) -> Bool {
    if case .collected = body.storage { return true }
    return false
}

private func text(_ response: UpstreamResponse) async throws -> String {
    String(buffer: try await response.body.collect(upTo: 1 << 24))
}

private func failure(_ work: () async throws -> Void) async -> (any Error)? {
    do {
        try await work()
        return nil
    } catch {
        return error
    }
}

@Suite struct UpstreamClientsTests {
    @Test func sequentialCallsShareOneKeptAliveConnection() async throws {
        let upstream = RawUpstream { index in .json(#"{"n":\#(index)}"#) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                for index in 0..<5 {
                    let response = try await call(clients, origin)
                    #expect(response.status == .ok && response.headers.first(name: "x-request-index") == String(index))
                    #expect(try await text(response) == #"{"n":\#(index)}"#)
                }
            }
        }
        #expect(upstream.counts.connections == 1 && upstream.counts.requests == 5)
    }

    @Test func aKeptAliveConnectionTheUpstreamDroppedIsReplacedOnce() async throws {
        // The second request lands on a connection the upstream closes without answering: the race of
        // an idle connection the server dropped just as it was reused. It goes once more, on a new one.
        let upstream = RawUpstream { index in index == 1 ? .closeWithoutAnswer : .json("ok") }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                #expect(try await text(try await call(clients, origin)) == "ok")
            }
        }
        #expect(upstream.counts.connections == 2 && upstream.counts.requests == 3)

        // A new connection closed without an answer fails the exchange: the pool does not try again (the
        // transport retries it as a connection failure, within `max_retries`).
        let closing = RawUpstream { _ in .closeWithoutAnswer }
        let error = try await closing.run { (origin: UpstreamOrigin) async throws in
            try await withClients { clients in await failure { _ = try await call(clients, origin) } }
        }
        #expect(error as? UpstreamConnectionError == .closedBeforeAnswer)
        #expect(closing.counts.requests == 1)
    }

    /// A reused connection closed after the upstream had the request for longer than an idle close takes
    /// to cross it: the provider may have worked on it (and billed it), so it is not sent again.
    @Test func aRequestTheUpstreamWorkedOnIsNeverSentAgain() async throws {
        let upstream = RawUpstream { index in index == 1 ? .closeAfter(.milliseconds(900)) : .json("ok") }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(idleCloseWindow: .milliseconds(300)) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .closedBeforeAnswer)
            }
        }
        #expect(upstream.counts.requests == 2)
    }

    /// The request a dropped idle connection did not carry goes out on a new connection, not on another
    /// pooled one, which the upstream (restarted, say) may have dropped alike.
    @Test func theRequestOfADroppedConnectionGoesOnANewOne() async throws {
        let upstream = RawUpstream { index in
            switch index {
            case 0, 1: .stream(["o", "k"], interval: .milliseconds(100))
            case 2: .closeWithoutAnswer
            default: .json("ok")
            }
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                async let first = text(try await call(clients, origin))
                async let second = text(try await call(clients, origin))
                #expect(try await [first, second] == ["ok", "ok"])
                #expect(try await clients.connectionCounts()[origin] == UpstreamConnectionCounts(active: 0, idle: 2, waiting: 0))
                #expect(try await text(try await call(clients, origin)) == "ok")
            }
        }
        #expect(upstream.counts.connections == 3 && upstream.counts.requests == 4)
    }

    /// A 408 and a close on a reused connection is the upstream closing it for idleness as the request
    /// crossed: the request was never read, and goes again on a new connection.
    @Test func aFourOhEightOnAReusedConnectionSendsTheRequestAgain() async throws {
        let upstream = RawUpstream { index in
            index == 1 ? .head(.requestTimeout, .http1_1, [("connection", "close"), ("content-length", "0")], body: "", close: true) : .json("ok")
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                #expect(try await text(try await call(clients, origin)) == "ok")
            }
        }
        #expect(upstream.counts.connections == 2 && upstream.counts.requests == 3)

        // A 408 long after the request went out may follow work the provider did: it is the answer.
        let late = RawUpstream { index in
            index == 1 ? .head(.requestTimeout, .http1_1, [("connection", "close"), ("content-length", "0")], body: "", close: true) : .json("ok")
        }
        try await late.run { (origin: UpstreamOrigin) async throws in
            try await withClients(idleCloseWindow: .nanoseconds(1)) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                #expect(try await call(clients, origin).status == .requestTimeout)
            }
        }
        #expect(late.counts.requests == 2)
    }

    /// Archway never asks to switch protocols; NIO's decoder parses nothing after a 101, so the connection
    /// must not serve another call.
    @Test func anUnaskedSwitchOfProtocolsIsAnInvalidAnswer() async throws {
        let upstream = RawUpstream { index in
            index == 0 ? .head(.switchingProtocols, .http1_1, [("connection", "upgrade"), ("upgrade", "websocket")], body: "", close: false) : .json("ok")
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .invalidResponse)
                #expect(try await text(try await call(clients, origin)) == "ok")
            }
        }
        #expect(upstream.counts.connections == 2)
    }

    /// A body that only the connection's close ends, cut by Archway's own timeout, is the timeout's failure,
    /// not a complete (short) body.
    @Test func aBodyFramedByTheCloseThatStallsFailsWithTheStall() async throws {
        let upstream = RawUpstream { _ in .head(.ok, .http1_0, [("content-type", "application/json")], body: #"{"partial":"#, close: false) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            // Three seconds between reads: on a busy machine (the whole suite in parallel, other work beside
            // it) the head of this upstream has taken over one.
            try await withClients(UpstreamSettings(firstByteTimeout: .seconds(3))) { (clients: UpstreamClients) async throws in
                let streamed = try await call(clients, origin)
                #expect(await failure { _ = try await text(streamed) } as? UpstreamConnectionError == .bodyStalled)
                let collected = try await call(clients, origin, collectLimit: 1 << 20)
                #expect(await failure { _ = try await text(collected) } as? UpstreamConnectionError == .bodyStalled)
            }
        }
    }

    /// A connect that outlasts the call's deadline ends at the deadline, not at the connect timeout.
    @Test func theDeadlineBoundsTheConnect() async throws {
        // A listener that never accepts, its backlog filled: further connects get no answer to their SYN.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        #expect(listen(listener, 0) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var fillers: [any Channel] = []
        for _ in 0..<4 {
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(200)).connect(host: "127.0.0.1", port: port).get() {
                fillers.append(channel)
            }
        }
        defer { for channel in fillers { channel.close(promise: nil) } }
        let origin = UpstreamOrigin(tls: false, host: "127.0.0.1", port: port)
        try await withClients(UpstreamSettings(connectTimeout: .seconds(20))) { (clients: UpstreamClients) async throws in
            let started = ContinuousClock.now
            let error = await failure { _ = try await call(clients, origin, deadline: .milliseconds(400)) }
            #expect(error as? UpstreamConnectionError == .deadlineExceeded)
            #expect(started.duration(to: .now) < .seconds(5))
        }
    }

    /// `max_connections_per_host` bounds the connections of all event loops together, even when it is
    /// smaller than the loops.
    @Test(arguments: [1, 3])
    func theConnectionLimitHoldsAcrossEventLoops(limit: Int) async throws {
        let upstream = RawUpstream { _ in .stream(["a", "b"], interval: .milliseconds(50)) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let clients = UpstreamClients(settings: UpstreamSettings(maxConnectionsPerHost: limit), group: group,
                                          tlsConfiguration: .makeClientConfiguration(), idleTimeout: .seconds(60))
            let bodies = try await withThrowingTaskGroup(of: String.self) { tasks in
                for _ in 0..<8 {
                    tasks.addTask { try await text(try await call(clients, origin)) }
                }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            #expect(bodies == Array(repeating: "ab", count: 8))
            try await clients.shutdown()
            try await group.shutdownGracefully()
        }
        // Nothing closes while the calls run (a minute's idle timeout): every connection opened was open at once.
        #expect(upstream.counts.connections <= limit)
    }

    /// Over TLS, a server's close without `close_notify` is a close like any other: a reused connection
    /// dropped so goes again on a new one, and a body cut so is a cut body, not a TLS failure.
    @Test func aTLSCloseWithoutCloseNotifyIsAPlainClose() async throws {
        let (server, trust) = try RawUpstream.selfSignedTLS()
        let trusting = trustingTLS(trust)
        let upstream = RawUpstream { index in
            switch index {
            case 1: .raggedClose(nil)
            case 3: .raggedClose(["data: a\n\n"])
            default: .json("ok")
            }
        }
        try await upstream.run(tls: server) { (origin: UpstreamOrigin) async throws in
            try await withClients(tls: trusting) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                #expect(try await text(try await call(clients, origin)) == "ok")
                let cut = try await call(clients, origin)
                #expect(await failure { _ = try await text(cut) } as? UpstreamConnectionError == .remoteConnectionClosed)
            }
        }
        #expect(upstream.counts.requests == 4)
    }

    /// Archway's own close of a TLS connection (a timeout here) fails the call at once: it does not wait
    /// for the `close_notify` of an upstream that stopped reading.
    @Test func aTimeoutOnATLSConnectionFailsTheCallAtOnce() async throws {
        let (server, trust) = try RawUpstream.selfSignedTLS()
        let trusting = trustingTLS(trust)
        let upstream = RawUpstream { _ in .silent }
        try await upstream.run(tls: server) { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(firstByteTimeout: .milliseconds(200)), tls: trusting) { (clients: UpstreamClients) async throws in
                let started = ContinuousClock.now
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .readTimeout)
                #expect(started.duration(to: .now) < .seconds(3))
            }
        }
    }

    @Test func firstByteTimeoutAndDeadlineCloseTheConnection() async throws {
        let upstream = RawUpstream { _ in .silent }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(firstByteTimeout: .milliseconds(200))) { (clients: UpstreamClients) async throws in
                let started = ContinuousClock.now
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .readTimeout)
                #expect(started.duration(to: .now) < .seconds(2))
            }
            try await withClients { (clients: UpstreamClients) async throws in
                let error = await failure { _ = try await call(clients, origin, deadline: .milliseconds(300)) }
                #expect(error as? UpstreamConnectionError == .deadlineExceeded)
            }
            #expect(try await upstream.eventually { $0.closed == 2 })
        }
    }

    /// A connection's timer outlives an exchange: the next one, on the same connection, still gets its own
    /// shorter deadline and first-byte timeout, and a timer left from a finished exchange closes nothing.
    @Test func aReusedConnectionTimesTheNextExchangeByItsOwnLimits() async throws {
        let upstream = RawUpstream { index in index % 2 == 0 ? .json("ok") : .silent }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(firstByteTimeout: .seconds(30))) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin, deadline: .seconds(60))) == "ok")
                let started = ContinuousClock.now
                let error = await failure { _ = try await call(clients, origin, deadline: .milliseconds(300)) }
                #expect(error as? UpstreamConnectionError == .deadlineExceeded)
                #expect(started.duration(to: .now) < .seconds(5))
            }
            #expect(upstream.counts.connections == 1)
        }
        let idle = RawUpstream { index in index == 0 ? .json("ok") : .silent }
        try await idle.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(firstByteTimeout: .milliseconds(300))) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "ok")
                // Past the first exchange's timeout while idle: the kept connection is still usable.
                try await Task.sleep(for: .milliseconds(600))
                #expect(try await clients.connectionCounts()[origin] == UpstreamConnectionCounts(active: 0, idle: 1, waiting: 0))
                let started = ContinuousClock.now
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .readTimeout)
                #expect(started.duration(to: .now) < .seconds(5))
            }
            #expect(idle.counts.connections == 1)
        }
    }

    @Test func theFirstByteTimeoutIsBetweenReadsNotOverTheWholeStream() async throws {
        let parts = (0..<5).map { "data: \($0)\n\n" }
        let upstream = RawUpstream { index in
            index == 0 ? .stream(parts, interval: .milliseconds(600)) : .stream(parts + Array(repeating: "data: x\n\n", count: 40), interval: .milliseconds(50))
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(firstByteTimeout: .seconds(2))) { (clients: UpstreamClients) async throws in
                // 5 × 600 ms is longer than the timeout; no gap is. The margin is wide because the upstream's
                // tasks share two cores with every other test, and a busy test can hold them back for most
                // of a second.
                #expect(try await text(try await call(clients, origin)) == parts.joined())
                // The call's deadline still ends a stream that outlives it, mid-body.
                let response = try await call(clients, origin, deadline: .milliseconds(400))
                let error = await failure { _ = try await text(response) }
                #expect(error as? UpstreamConnectionError == .deadlineExceeded)
            }
        }
    }

    @Test func idleConnectionsCloseAfterTheIdleTimeout() async throws {
        let upstream = RawUpstream { _ in .stream(["a", "b"], interval: .milliseconds(10)) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(idleTimeout: .milliseconds(300)) { (clients: UpstreamClients) async throws in
                let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 { group.addTask { try await text(try await call(clients, origin)) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(bodies == Array(repeating: "ab", count: 20))
                #expect(upstream.counts.connections == 20 && upstream.counts.closed == 0)
                // Within the idle timeout and a sweep (a sixth of it) of going idle, every one is closed.
                try await Task.sleep(for: .milliseconds(400))
                #expect(try await upstream.eventually { $0.closed == 20 })
            }
        }
    }

    @Test func cancellingACallClosesItsConnection() async throws {
        let upstream = RawUpstream { _ in .silent }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                let task = Task { try await call(clients, origin) }
                #expect(try await upstream.eventually { $0.requests == 1 })
                task.cancel()
                let error = await failure { _ = try await task.value }
                #expect(error is CancellationError)
                #expect(try await upstream.eventually { $0.closed == 1 })
            }
        }
    }

    @Test func abandoningABodyMidStreamClosesItsConnection() async throws {
        let upstream = RawUpstream { index in
            index == 0 ? .stream((0..<200).map { "part \($0)\n" }, interval: .milliseconds(10)) : .json("next")
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                do {
                    let response = try await call(clients, origin)
                    var parts = response.body.makeAsyncIterator()
                    _ = try await parts.next()
                    _ = try await parts.next()
                }
                // The reader is gone: the provider is told (the connection closes) and the next call
                // never gets the abandoned connection.
                #expect(try await upstream.eventually { $0.closed == 1 })
                #expect(try await text(try await call(clients, origin)) == "next")
            }
        }
        #expect(upstream.counts.connections == 2)
    }

    @Test func aStreamLeftAtItsLastEventKeepsItsConnection() async throws {
        // The reader stops at `[DONE]`; the terminating chunk follows 30 ms later, within the time an
        // abandoned body may take to end (50 ms by default, generous here for a loaded machine). The connection reads
        // it, goes back to the pool and carries the next call.
        let upstream = RawUpstream { index in
            index == 0 ? .stream(["data: a\n\n", "data: [DONE]\n\n"], interval: .milliseconds(30)) : .json("next")
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(drainAllowance: .seconds(2)) { (clients: UpstreamClients) async throws in
                do {
                    let response = try await call(clients, origin)
                    var parts = response.body.makeAsyncIterator()
                    while let part = try await parts.next(), !String(buffer: part).contains("[DONE]") {}
                }
                // Back in the pool once the end has arrived.
                for _ in 0..<100 where try await clients.connectionCounts()[origin]?.idle != 1 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await text(try await call(clients, origin)) == "next")
            }
        }
        #expect(upstream.counts.connections == 1)
    }

    @Test func largeBodiesArriveWholeAndCollectStopsAtItsLimit() async throws {
        let size = 3 * 1024 * 1024 + 17
        let upstream = RawUpstream { _ in .large(size) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                // Read slowly, so the connection has to stop and resume reading from its socket.
                let response = try await call(clients, origin)
                var received: [UInt8] = []
                for try await part in response.body {
                    received += part.readableBytesView
                    if received.count < 256 * 1024 { try await Task.sleep(for: .milliseconds(5)) }
                }
                #expect(received == RawUpstream.largeBody(size))
                let error = await failure { _ = try await call(clients, origin).body.collect(upTo: 1024) }
                #expect(error is NIOTooManyBytesError)
            }
        }
    }

    @Test func aBodyWantedWholeArrivesWithTheAnswerAndKeepsTheConnection() async throws {
        let parts = (0..<6).map { "part \($0);" }
        let upstream = RawUpstream { index in index == 1 ? .json("") : .stream(parts, interval: .milliseconds(20)) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                let response = try await call(clients, origin, collectLimit: 1 << 20)
                // Already whole when the call returns: read as one part, as many times as asked.
                #expect(response.status == .ok && isCollected(response.body))
                var read: [String] = []
                for try await part in response.body { read.append(String(buffer: part)) }
                #expect(read == [parts.joined()])
                #expect(try await text(response) == parts.joined())
                // An empty body is no part at all, like a streamed one.
                let empty = try await call(clients, origin, collectLimit: 1 << 20)
                var iterator = empty.body.makeAsyncIterator()
                #expect(try await iterator.next() == nil)
                #expect(try await text(empty) == "")
                // The connection went back to the pool and carries the next call.
                #expect(try await text(try await call(clients, origin, collectLimit: 1 << 20)) == parts.joined())
            }
        }
        #expect(upstream.counts.connections == 1 && upstream.counts.requests == 3)
    }

    @Test func aBodyWantedWholeFailsWhereAStreamedOneWould() async throws {
        let size = 256 * 1024
        let upstream = RawUpstream { index in
            switch index {
            case 0: .large(size)
            case 1: .cut(["{\"partial\":"])
            default: .stream(["a", "b", "c"], interval: .seconds(8))
            }
        }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                // Past its limit: the head's status, a body that throws as `collect` would, the connection closed.
                let large = try await call(clients, origin, collectLimit: 1024)
                #expect(large.status == .ok)
                #expect(await failure { _ = try await text(large) } is NIOTooManyBytesError)
                #expect(try await upstream.eventually { $0.closed == 1 })
                // Cut short by the upstream: the body throws the close.
                let cut = try await call(clients, origin, collectLimit: 1 << 20)
                #expect(await failure { _ = try await text(cut) } as? UpstreamConnectionError == .remoteConnectionClosed)
                var parts = cut.body.makeAsyncIterator()
                #expect(await failure { _ = try await parts.next() } as? UpstreamConnectionError == .remoteConnectionClosed)
                #expect(try await parts.next() == nil)
            }
            // A gap between parts past the first-byte timeout: the body throws the timeout. The timeout is
            // far from both the upstream's quick head and its slow gap: the upstream's tasks share two cores
            // with every other test.
            try await withClients(UpstreamSettings(firstByteTimeout: .seconds(2))) { (clients: UpstreamClients) async throws in
                let slow = try await call(clients, origin, collectLimit: 1 << 20)
                #expect(await failure { _ = try await text(slow) } as? UpstreamConnectionError == .bodyStalled)
            }
        }
        #expect(upstream.counts.connections == 3)
    }

    /// The cancellation reaches the pool's loop before the call does: the call still ends, with nothing sent.
    @Test func aCallCancelledBeforeItStartsSendsNothing() async throws {
        let upstream = RawUpstream { _ in .silent }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                for _ in 0..<20 {
                    let task = Task {
                        withUnsafeCurrentTask { $0?.cancel() }
                        return try await call(clients, origin)
                    }
                    #expect(await failure { _ = try await task.value } is CancellationError)
                }
                #expect(try await clients.connectionCounts()[origin, default: UpstreamConnectionCounts()] == UpstreamConnectionCounts())
            }
        }
        #expect(upstream.counts.requests == 0)
    }

    @Test func cancellingACallCollectingItsBodyClosesItsConnection() async throws {
        let upstream = RawUpstream { _ in .stream((0..<50).map { "part \($0)" }, interval: .milliseconds(50)) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients { (clients: UpstreamClients) async throws in
                let task = Task { try await call(clients, origin, collectLimit: 1 << 20) }
                #expect(try await upstream.eventually { $0.requests == 1 })
                // Inside the body (the head came at once, the parts come over 2.5 s).
                try await Task.sleep(for: .milliseconds(150))
                task.cancel()
                #expect(await failure { _ = try await task.value } is CancellationError)
                #expect(try await upstream.eventually { $0.closed == 1 })
            }
        }
    }

    @Test func callsBeyondTheConnectionLimitWaitTheirTurn() async throws {
        let upstream = RawUpstream { index in .stream(["a", "b", "\(index)"], interval: .milliseconds(20)) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(maxConnectionsPerHost: 1)) { (clients: UpstreamClients) async throws in
                let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<4 { group.addTask { try await text(try await call(clients, origin)) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(bodies.sorted() == ["ab0", "ab1", "ab2", "ab3"])
            }
        }
        #expect(upstream.counts.connections == 1)

        // A call still waiting for a connection at its deadline fails with the deadline.
        let silent = RawUpstream { _ in .silent }
        try await silent.run { (origin: UpstreamOrigin) async throws in
            try await withClients(UpstreamSettings(maxConnectionsPerHost: 1)) { (clients: UpstreamClients) async throws in
                let holder = Task { try await call(clients, origin) }
                #expect(try await silent.eventually { $0.requests == 1 })
                let waiter = Task { await failure { _ = try await call(clients, origin, deadline: .milliseconds(300)) } }
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await clients.connectionCounts()[origin] == UpstreamConnectionCounts(active: 1, idle: 0, waiting: 1))
                #expect(await waiter.value as? UpstreamConnectionError == .deadlineExceeded)
                #expect(try await clients.connectionCounts()[origin] == UpstreamConnectionCounts(active: 1, idle: 0, waiting: 0))
                holder.cancel()
                _ = await failure { _ = try await holder.value }
            }
        }
        #expect(silent.counts.connections == 1)
    }

    @Test func httpsUpstreamsAreVerifiedAgainstTheTrustRoots() async throws {
        let (server, trust) = try RawUpstream.selfSignedTLS()
        let upstream = RawUpstream { _ in .json("secure") }
        try await upstream.run(tls: server) { (origin: UpstreamOrigin) async throws in
            try await withClients(tls: trustingTLS(trust)) { (clients: UpstreamClients) async throws in
                #expect(try await text(try await call(clients, origin)) == "secure")
                #expect(try await text(try await call(clients, origin)) == "secure")
            }
            // The system's roots do not know this certificate: the handshake fails, nothing is sent.
            try await withClients { (clients: UpstreamClients) async throws in
                let error = await failure { _ = try await call(clients, origin) }
                #expect(error as? UpstreamConnectionError == .tlsUntrustedCertificate)
            }
        }
        #expect(upstream.counts.requests == 2)
    }

    @Test func anUnreachableUpstreamFailsFast() async throws {
        // A port nothing listens on (bound, then closed).
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        try await withClients { (clients: UpstreamClients) async throws in
            let error = await failure { _ = try await call(clients, UpstreamOrigin(tls: false, host: "127.0.0.1", port: port)) }
            #expect(error as? UpstreamConnectionError == .connectFailed)
        }
    }

    @Test(arguments: [
        ("https://api.openai.com/v1", true, "api.openai.com", 443, "/v1", "api.openai.com"),
        ("http://127.0.0.1:8080/v1/", false, "127.0.0.1", 8080, "/v1", "127.0.0.1:8080"),
        ("http://[::1]:9000", false, "::1", 9000, "", "[::1]:9000"),
        ("HTTPS://example.com:443/a/b", true, "example.com", 443, "/a/b", "example.com"),
        ("http://example.com", false, "example.com", 80, "", "example.com"),
    ])
    func originsAndPathsComeFromBaseURLs(url: String, tls: Bool, host: String, port: Int, path: String, hostHeader: String) {
        let (origin, parsedPath) = UpstreamOrigin.parse(url)
        #expect(origin == UpstreamOrigin(tls: tls, host: host, port: port))
        #expect(parsedPath == path && origin.hostHeader == hostHeader)
    }
}
