import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Replays an upstream's bytes through one exchange on an embedded connection, as the fuzz target and the
/// byte-level tests need: the real connection handler and NIO's HTTP/1.1 decoder, no socket.
@_spi(Testing)
public enum UpstreamConnectionReplay {
    public struct Outcome: Sendable, Equatable {
        /// The exchange's caller got exactly one answer (a head or an error).
        public var answered = false
        public var status: Int?
        public var body: [UInt8]?
        public var headError: UpstreamConnectionError?
        public var bodyError: UpstreamConnectionError?
        /// An error that is not an `UpstreamConnectionError` reached the caller.
        public var foreignError = false
    }

    /// Feeds `pieces` to one exchange, then hangs up: by then every part the exchange will ever get is
    /// buffered, so its body (if a head arrived) can be read to its end. With `collectLimit` the exchange
    /// wants the body whole (`UpstreamClients.execute`), which must come to the same outcome.
    public static func replay(_ pieces: [[UInt8]], collectLimit: Int? = nil) async throws -> Outcome {
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        let pool = UpstreamConnectionPool(
            eventLoop: loop,
            settings: .init(connectTimeout: .seconds(1), readTimeout: .seconds(1), maxConnectionsPerOrigin: 1, idleTimeout: .seconds(60)),
            tls: UpstreamTLS(configuration: .makeClientConfiguration())
        )
        let origin = UpstreamOrigin(tls: false, host: "127.0.0.1", port: 1)
        let handler = UpstreamConnectionHandler(origin: origin, pool: pool, readTimeout: .seconds(1), drainAllowance: .milliseconds(50), idleCloseWindow: .milliseconds(300))
        try channel.pipeline.syncOperations.addHTTPClientHandlers(
            enableOutboundHeaderValidation: false,
            encoderConfiguration: UpstreamRequest.encoderConfiguration
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let request = UpstreamRequest(
            origin: origin,
            head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/chat/completions", headers: ["host": "127.0.0.1:1", "content-length": "2"]),
            body: ByteBuffer(string: "{}"),
            deadline: .now() + .seconds(5),
            collectLimit: collectLimit
        )
        handler.start(request)
        for piece in pieces where channel.isActive {
            _ = try? channel.writeInbound(ByteBuffer(bytes: piece))
        }
        if channel.isActive {
            _ = try? channel.close().wait()
        }
        loop.run()

        let answer = request.unclaimedAnswer
        var outcome = Outcome()
        outcome.answered = answer != nil
        switch answer {
        case .success(let response):
            outcome.status = Int(response.status.code)
            do {
                outcome.body = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            } catch let error as UpstreamConnectionError {
                outcome.bodyError = error
            } catch {
                outcome.foreignError = true
            }
        case .failure(let error as UpstreamConnectionError):
            outcome.headError = error
        case .failure:
            outcome.foreignError = true
        case nil:
            break
        }
        _ = try? channel.finish()
        return outcome
    }
}
