@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypesHTTP1
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
}
