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

    /// The bytes SwiftNIO's server pipeline writes for a response to `request`: its encoder knows the
    /// request's method (HEAD and CONNECT answers carry no body).
    private static func wire(answering request: String, _ head: HTTPResponseHead, _ body: [String], framing: Bool) throws -> String {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = framing
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false, withEncoderConfiguration: configuration
        )
        try channel.writeInbound(ByteBuffer(string: request))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        // A body the method does not allow is refused by the encoder; what matters here is the head.
        for part in body { channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: part))), promise: nil) }
        try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
        var bytes = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += String(buffer: buffer) }
        _ = try? channel.finish()
        return bytes
    }

    @Test("answers HEAD and CONNECT as SwiftNIO's encoder does once it knows the method", arguments: [
        ("HEAD /healthz HTTP/1.1\r\nhost: gw\r\n\r\n", false),
        ("CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n", true),
        ("GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n", false),
    ])
    func bodilessMethods(request: String, connect: Bool) throws {
        for (fields, body) in [(HTTPFields([HTTPField(name: .contentLength, value: "2")]), ["{}"]), ([:], ["a", "b"])] {
            let response = HTTPResponse(status: .notFound, headerFields: fields)
            var expected = response
            expected.headerFields[.date] = "Mon, 07 Dec 2026 11:00:00 GMT"
            expected.headerFields[.server] = "archway"
            let ours = IngressResponseWriter.head(of: response, date: "Mon, 07 Dec 2026 11:00:00 GMT", server: "archway", closes: false, answersConnect: connect)
            #expect(try Self.wire(answering: request, ours, body, framing: false) == Self.wire(answering: request, HTTPResponseHead(expected), body, framing: true))
        }
    }

    @Test("a stream to an HTTP/1.0 client is sent as it comes and ends with the connection, never chunked")
    func http10StreamsAreNotChunked() throws {
        // What IngressHandler tells the router's task of each request's version.
        var accepts: [Bool] = []
        let channel = EmbeddedChannel()
        try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: 1 << 20, server: "archway") { accepts.append($0.acceptsChunked) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET /v1/models HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"))
        #expect(accepts == [false])
        _ = try? channel.finish()
        let modern = EmbeddedChannel()
        try IngressHandler.addPipeline(to: modern.pipeline.syncOperations, bodyLimit: 1 << 20, server: "archway") { accepts.append($0.acceptsChunked) }
        try modern.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try modern.writeInbound(ByteBuffer(string: "GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n"))
        #expect(accepts == [false, true])
        _ = try? modern.finish()

        let stream = HTTPResponse(status: .ok, headerFields: [.contentType: "text/event-stream"])
        let head = IngressResponseWriter.head(of: stream, date: "Mon, 07 Dec 2026 11:00:00 GMT", server: "archway", closes: true, chunked: false)
        let bytes = try Self.wire(answering: "GET /v1/models HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", head, ["data: 1\n\n", "data: 2\n\n"], framing: false)
        #expect(!bytes.lowercased().contains("transfer-encoding"))
        #expect(bytes.contains("Connection: close\r\n"))
        #expect(bytes.hasSuffix("\r\n\r\ndata: 1\n\ndata: 2\n\n"))
    }
}

