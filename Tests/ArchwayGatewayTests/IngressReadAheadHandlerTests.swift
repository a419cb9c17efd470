@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Counts the `read()` calls that reach the head of the pipeline: what makes a channel read its socket.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

@Suite("Reading ahead on a client connection")
struct IngressReadAheadHandlerTests {
    /// The ingress pipeline behind a read counter; requests are held until `answer` is called.
    private final class Connection {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        var dispatched: [HTTPRequest] = []

        init() throws {
            try channel.pipeline.syncOperations.addHandler(counter)
            try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: 1 << 20, server: "archway") { [unowned self] request in
                dispatched.append(request.head)
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// One socket read as the channel delivers it: the bytes, the read's end, then auto-read's `read()`.
        /// Returns the reads that reached the socket.
        func receive(_ text: String) throws -> Int {
            let before = counter.reads
            try channel.writeInbound(ByteBuffer(string: text))
            channel.pipeline.fireChannelReadComplete()
            channel.pipeline.read()
            return counter.reads - before
        }

        func answer() throws {
            channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"])), promise: nil)
            try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
            while try channel.readOutbound(as: ByteBuffer.self) != nil {}
        }
    }

    static let request = "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\r\n\r\n{}"

    @Test("the socket is still read while the one request is answered, so its read interest never drops")
    func readsAheadOfOneRequest() throws {
        let connection = try Connection()
        #expect(try connection.receive(Self.request) >= 1)
        #expect(connection.dispatched.count == 1)
        try connection.answer()
        #expect(try connection.receive(Self.request) >= 1)
        #expect(connection.dispatched.count == 2)
        _ = try? connection.channel.finish()
    }

    @Test("pipelined requests wait in order, and reading stops while more than one is unanswered")
    func holdsBackPipelinedRequests() throws {
        let connection = try Connection()
        #expect(try connection.receive(Self.request + Self.request) == 0)
        #expect(connection.dispatched.count == 1)
        // Answering the first hands over the second, still without reading; answering that one reads again.
        try connection.answer()
        #expect(connection.dispatched.count == 2)
        #expect(connection.counter.reads == 0)
        try connection.answer()
        #expect(connection.counter.reads == 1)
        #expect(try connection.receive(Self.request) >= 1)
        #expect(connection.dispatched.count == 3)
        _ = try? connection.channel.finish()
    }
}
