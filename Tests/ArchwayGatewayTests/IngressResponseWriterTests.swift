@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
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

    @Test("goes out as SwiftNIO's own framing would send it", arguments: cases.indices)
    func sameBytesAsTheEncodersFraming(index: Int) throws {
        let (status, fields, body) = Self.cases[index]
        let response = HTTPResponse(status: status, headerFields: fields)
        let ours = try Self.wire(IngressResponseWriter.framed(response), body, framing: false)
        let library = try Self.wire(HTTPResponseHead(response), body, framing: true)
        #expect(ours == library)
    }
}
