@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@Suite("Reading a client's request")
struct IngressHandlerTests {
    private final class Connection {
        let channel = EmbeddedChannel()
        var dispatched: [IngressRequest] = []

        init(bodyLimit: Int) throws {
            try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: bodyLimit, server: "archway") { [unowned self] request in
                dispatched.append(request)
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws -> String {
            try channel.writeInbound(ByteBuffer(string: text))
            var written = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += String(buffer: buffer) }
            return written
        }
    }

    static func head(length: Int) -> String {
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nexpect: 100-continue\r\ncontent-length: \(length)\r\n\r\n"
    }

    @Test("Expect: 100-continue within the limit is invited, and the request goes on with its body")
    func expectWithinTheLimitIsInvited() throws {
        let connection = try Connection(bodyLimit: 16)
        #expect(try connection.send(Self.head(length: 2)) == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(connection.dispatched.isEmpty)
        _ = try connection.send("{}")
        #expect(connection.dispatched.count == 1)
        #expect(connection.dispatched.first.map { String(buffer: $0.body) } == "{}")
        #expect(connection.dispatched.first?.closes == false)
    }

    @Test("Expect: 100-continue over the limit is answered at once, from its head, and closes after")
    func expectOverTheLimitIsAnsweredFromItsHead() throws {
        let connection = try Connection(bodyLimit: 16)
        #expect(try connection.send(Self.head(length: 17)).isEmpty, "no invitation")
        let request = try #require(connection.dispatched.first)
        #expect(request.closes)
        #expect(request.body.readableBytes == 0)
        #expect(request.head.headerFields[.contentLength] == "17")
        // A client that sends the body anyway: dropped, not a second request.
        _ = try connection.send(String(repeating: "x", count: 17))
        #expect(connection.dispatched.count == 1)
    }
}
