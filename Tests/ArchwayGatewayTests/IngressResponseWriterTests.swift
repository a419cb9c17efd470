@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Synchronization
import Testing

@Suite("A response head framed by the ingress writer")
struct IngressResponseWriterTests {
    static let cases: [(HTTPResponse.Status, HTTPFields, [String])] = [
        (.ok, [.contentType: "application/json", .contentLength: "2"], ["{}"]),
        (.ok, [.contentType: "text/event-stream"], ["data: 1\n\n", "data: 2\n\n"]),
        (.ok, [.contentLength: "2", .transferEncoding: "chunked"], ["{}"]),
        (.ok, [.transferEncoding: "gzip"], ["x"]),
        (.notFound, [.contentLength: "0"], []),
        (.noContent, [.contentLength: "0", .transferEncoding: "chunked"], []),
        (.notModified, [.cacheControl: "no-cache"], []),
        (.continue, [:], []),
        (.badGateway, [:], ["stream failed"]),
    ]

    /// The bytes an encoder writes for a response: its head, body parts and end.
    private static func wire(_ head: HTTPResponseHead, _ body: [String], framing: Bool) throws -> String {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = framing
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder(configuration: configuration))
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        for part in body { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: part)))) }
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        var bytes = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += String(buffer: buffer) }
        _ = try channel.finish()
        return bytes
    }

    @Test("goes out as the response with its date, server and close set would, framed by SwiftNIO", arguments: cases.indices, [false, true])
    func sameBytesAsTheEncodersFraming(index: Int, closes: Bool) throws {
        let (status, fields, body) = Self.cases[index]
        let response = HTTPResponse(status: status, headerFields: fields)
        let ours = try Self.wire(IngressResponseWriter.head(of: response, date: "Mon, 07 Dec 2026 11:00:00 GMT", server: "archway", closes: closes), body, framing: false)
        // What the gateway sent before: the fields set on the response, SwiftNIO's conversion and framing.
        var expected = response
        expected.headerFields[.date] = "Mon, 07 Dec 2026 11:00:00 GMT"
        expected.headerFields[.server] = "archway"
        if closes { expected.headerFields[.connection] = "close" }
        let library = try Self.wire(HTTPResponseHead(expected), body, framing: true)
        #expect(ours == library)
    }

    @Test("what waits for the end runs once the loop has written it, then a closing connection closes", arguments: [false, true])
    func endWrittenRunsWhatWaits(closes: Bool) async throws {
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let head = HTTPResponse(status: .ok, headerFields: [.contentLength: "2"])
        let writer = IngressResponseWriter(channel: channel, head: head, server: "archway", closes: closes, holdsBody: true)
        let written = Mutex(false)
        writer.onWritten = { written.withLock { $0 = true } }
        try await writer.write(ByteBuffer(string: "{}"))
        try await writer.finish(nil)
        // Queued, not yet flushed: nothing has been written, and the task did not wait for it.
        #expect(written.withLock { $0 } == false)
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
        channel.embeddedEventLoop.run()
        #expect(written.withLock { $0 })
        guard case .head(let sent)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no head")
            return
        }
        #expect(sent.headers["Connection"] == (closes ? ["close"] : []))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == .body(.byteBuffer(ByteBuffer(string: "{}"))))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == .end(nil))
        #expect(channel.isActive == !closes)
        _ = try? channel.finish()
    }
}
