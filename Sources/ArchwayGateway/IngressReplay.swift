import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Client bytes through the ingress's pipeline (`IngressHandler.addPipeline`, as the server builds it) on
/// an embedded channel, every request answered at once with a small response.
/// For the fuzz target (`Fuzz/Sources/FuzzIngress`).
@_spi(Testing)
public enum IngressReplay {
    public struct Outcome: Sendable {
        /// Requests handed to the router.
        public var requests = 0
        /// The largest body handed over.
        public var largestBody = 0
        /// Response bytes written back.
        public var responseBytes = 0
    }

    private final class Recorder {
        var outcome = Outcome()
    }

    /// Feeds `pieces` one read at a time; stops once the channel has closed.
    public static func replay(_ pieces: [[UInt8]], bodyLimit: Int) throws -> Outcome {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: bodyLimit, server: "archway") { request in
            recorder.outcome.requests += 1
            recorder.outcome.largestBody = max(recorder.outcome.largestBody, request.body.readableBytes)
            channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"])), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "ok"))), promise: nil)
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for piece in pieces where channel.isActive {
            // A malformed request is answered 400 and its error surfaces here; the channel then closes.
            _ = try? channel.writeInbound(ByteBuffer(bytes: piece))
            while let written = try channel.readOutbound(as: ByteBuffer.self) {
                recorder.outcome.responseBytes += written.readableBytes
            }
        }
        _ = try? channel.finish()
        // Work the pipeline left scheduled on the embedded loop holds the channel: run it, or every replay leaks.
        channel.embeddedEventLoop.run()
        return recorder.outcome
    }
}
