@testable import ArchwayGateway
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Records the closes that reach the head of the pipeline; an embedded channel closes entirely on any, so
/// closing only the output stops here, as a socket keeps reading after it.
private final class CloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var modes: [CloseMode] = []

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        modes.append(mode)
        if mode == .output { promise?.succeed(()) } else { context.close(mode: mode, promise: promise) }
    }
}

@Suite("Requests the parser cannot read")
struct IngressProtocolErrorHandlerTests {
    /// The ingress pipeline on an embedded channel; requests are answered at once with an empty 200.
    private final class Connection {
        let channel = EmbeddedChannel()
        let closes = CloseRecorder()
        var dispatched = 0

        init() throws {
            try channel.pipeline.syncOperations.addHandler(closes)
            try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: 1 << 20, server: "archway") { [unowned self] _ in
                dispatched += 1
                channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"])), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Sends `text` and returns what the gateway wrote back.
        func send(_ text: String) -> String {
            _ = try? channel.writeInbound(ByteBuffer(string: text))
            var written = ""
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
                written += String(buffer: buffer)
            }
            return written
        }
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func parse(_ text: String) throws -> Answer {
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = try #require(parts.first).components(separatedBy: "\r\n")
        let statusLine = try #require(lines.first)
        let status = try #require(Int(statusLine.split(separator: " ")[1]))
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let (name, value) = try #require(line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...]) })
            headers[name.lowercased()] = value.trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static let chunked = "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n"

    @Test(arguments: [
        (chunked + "ZZ\r\nabc\r\n0\r\n\r\n", 400, "invalid_body"),
        (chunked + "3\r\nabcXX0\r\n\r\n", 400, "invalid_body"),
        ("POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}", 400, "invalid_request"),
        ("GARBAGE\r\n\r\n", 400, "invalid_request"),
        ("FOO /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n\r\n", 400, "invalid_request"),
        ("POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nx-big: \(String(repeating: "a", count: 100_000))\r\n\r\n", 431, "request_header_fields_too_large"),
    ])
    func answeredInTheOpenAIShapeWithTheConnectionClosing(request: String, status: Int, code: String) throws {
        let connection = try Connection()
        let answer = try Self.parse(connection.send(request))
        #expect(answer.status == status)
        #expect(answer.headers["content-type"] == "application/json")
        #expect(answer.headers["connection"] == "close")
        #expect(answer.headers["server"] == "archway")
        #expect(answer.headers["content-length"] == String(answer.body.utf8.count))
        let error = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])["error"] as? [String: Any]
        #expect(error?["code"] as? String == code)
        #expect(error?["type"] as? String == "invalid_request_error")
        #expect((error?["message"] as? String)?.isEmpty == false)
        #expect(error?.keys.contains("param") == true)
        // The client's bytes are never echoed.
        #expect(!answer.body.contains("aaaa") && !answer.body.contains("GARBAGE") && !answer.body.contains("ZZ"))
        #expect(connection.dispatched == 0)
        // The output ends after the answer; the input stays open, so the client's unsent bytes do not turn
        // the close into a reset that destroys the answer.
        #expect(connection.closes.modes == [.output])
        #expect(connection.channel.isActive)

        // What the client sends after it is dropped, and the connection closes once the linger has passed.
        #expect(connection.send("GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n").isEmpty)
        #expect(connection.dispatched == 0)
        #expect(connection.channel.isActive)
        connection.channel.embeddedEventLoop.advanceTime(by: IngressProtocolErrorHandler.linger)
        #expect(connection.closes.modes == [.output, .all])
        #expect(!connection.channel.isActive)
    }

    @Test("a client that closes its side after the answer has the connection closed at once")
    func closesWhenTheClientHasRead() throws {
        let connection = try Connection()
        #expect(try Self.parse(connection.send("GARBAGE\r\n\r\n")).status == 400)
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(connection.closes.modes == [.output, .all])
        #expect(!connection.channel.isActive)
    }

    @Test("a malformed request after a good one on the same connection is answered after it")
    func pipelinedAfterAGoodRequest() throws {
        let connection = try Connection()
        let written = connection.send("GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\nGARBAGE\r\n\r\n")
        #expect(connection.dispatched == 1)
        let good = try #require(written.range(of: "HTTP/1.1 200 OK\r\n"))
        let bad = try #require(written.range(of: "HTTP/1.1 400 Bad Request\r\n"))
        #expect(good.upperBound <= bad.lowerBound)
        #expect(try Self.parse(String(written[bad.lowerBound...])).headers["connection"] == "close")
    }
}
