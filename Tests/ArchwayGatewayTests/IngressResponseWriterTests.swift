@testable import ArchwayGateway
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import ArchwayTelemetry
import Hummingbird
import InMemoryTracing
import Logging
import MetricsTestKit
import NIOHTTPTypesHTTP1
import Synchronization
import Testing
import Tracing

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

    @Test(
        "what waits for the end runs once the loop has written it, then a closing connection closes",
        .timeLimit(.minutes(1)), arguments: [false, true]
    )
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

    @Test("the SERVER span ends once the end is written, once; at once when a body never finishes", .timeLimit(.minutes(1)))
    func serverSpanFollowsTheEnd() async throws {
        let tracer = InMemoryTracer()
        let middleware = ServerSpanMiddleware(tracer: tracer, telemetry: GenAITelemetry(tracer: tracer, metrics: TestMetrics()))
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let context = GatewayRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: Logger(label: "test")))
        let request = Request(head: HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/chat/completions"), body: RequestBody(buffer: ByteBuffer()))

        let answered = try await middleware.handle(request, context: context) { _, _ in
            Response(status: .ok, headers: [.contentLength: "2"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        let writer = IngressResponseWriter(channel: channel, head: answered.head, server: "archway", closes: false, holdsBody: true)
        try await answered.body.write(writer)
        #expect(tracer.finishedSpans.isEmpty, "ended before the last byte was written")
        channel.embeddedEventLoop.run()
        #expect(tracer.finishedSpans.count == 1)
        #expect(tracer.finishedSpans.first?.attributes.get(GenAIAttributes.httpResponseStatusCode) == .int64(200))

        let unfinished = try await middleware.handle(request, context: context) { _, _ in
            Response(status: .ok, body: ResponseBody { _ in })
        }
        try await unfinished.body.write(IngressResponseWriter(channel: channel, head: unfinished.head, server: "archway", closes: false, holdsBody: false))
        #expect(tracer.finishedSpans.count == 2)
        channel.embeddedEventLoop.run()
        #expect(tracer.finishedSpans.count == 2)
        _ = try? channel.finish()
    }

    @Test("a stream to an HTTP/1.0 client is sent as it comes and ends with the connection, never chunked")
    func http10StreamsAreNotChunked() throws {
        // What IngressHandler tells the router's task of each request's version.
        var accepts: [Bool] = []
        let channel = EmbeddedChannel()
        try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: 1 << 20) { accepts.append($0.acceptsChunked) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET /v1/models HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"))
        #expect(accepts == [false])
        _ = try? channel.finish()
        let modern = EmbeddedChannel()
        try IngressHandler.addPipeline(to: modern.pipeline.syncOperations, bodyLimit: 1 << 20) { accepts.append($0.acceptsChunked) }
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

