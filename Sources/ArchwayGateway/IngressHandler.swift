import ArchwayCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Reads one request at a time on the event loop (SwiftNIO's pipeline handler holds pipelined ones back
/// until the response before them has ended) and hands it, body included, to `dispatch`.
///
/// The body is kept up to one byte more than `bodyLimit`, the rest read and dropped: that is enough for
/// the route to answer 413 in the OpenAI error shape, without holding an oversized upload in memory.
///
/// The head is turned into HTTPTypes here rather than by a codec handler of its own: one handler fewer for
/// each of a request's parts and a response's writes to pass through (`HTTPRequest+Ingress.swift`).
/// Responses are written as SwiftNIO's HTTP/1 parts (`IngressResponseWriter`).
final class IngressHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequest, ByteBuffer?)
        /// Answered before its body (over the limit, or too slow): the rest of it is dropped.
        case answeredEarly
    }

    private var state = State.idle
    /// Whether the request being read came as HTTP/1.0 (HTTPTypes has no version).
    private var isHTTP10 = false
    /// Whether the connection closes after the request being read is answered: a `CONNECT` or an
    /// `Upgrade`, after which SwiftNIO's parser reads nothing more.
    private var closesAfter = false
    private let bodyLimit: Int
    private let dispatch: (IngressRequest) -> Void
    /// The connection's requests, cancelled when the client goes away.
    private let client: ClientConnection
    /// The gateway's open connections, which shutdown cuts; nil in tests and the fuzz replay.
    private let connections: ClientConnections?
    /// A connection waiting this long for a request (idle after its last answer, or sending a head that
    /// never completes) is closed; a body still arriving this long after its head is answered 408. Without
    /// them a client holding sockets open, or sending a byte a second, holds descriptors and memory for ever.
    private let timeouts: Timeouts
    private var timer: Scheduled<Void>?
    /// When the connection opened, and when the head being read arrived.
    private var openedAt = NIODeadline.now()
    private var headArrivedAt: NIODeadline?

    struct Timeouts {
        var idle: TimeAmount
        var read: TimeAmount

        static let standard = Timeouts(idle: .seconds(75), read: .seconds(60))

        /// How often a connection's clock is looked at: a quarter of the shorter timeout, so either is
        /// enforced within a quarter of itself late.
        var tick: TimeAmount { .nanoseconds(max(min(idle.nanoseconds, read.nanoseconds) / 4, 50_000_000)) }
    }

    init(
        bodyLimit: Int,
        peer: SocketAddress? = nil,
        timeouts: Timeouts = .standard,
        connections: ClientConnections? = nil,
        dispatch: @escaping (IngressRequest) -> Void
    ) {
        self.bodyLimit = bodyLimit
        self.client = ClientConnection(peer: peer)
        self.timeouts = timeouts
        self.connections = connections
        self.dispatch = dispatch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connections?.add(client)
        if context.channel.isActive { armTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connections?.remove(client)
        timer?.cancel()
        timer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        openedAt = .now()
        armTimer(context: context)
        context.fireChannelActive()
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeouts.tick) { [self] in
            timer = nil
            timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let headArrivedAt, now - headArrivedAt >= timeouts.read, case .receiving(let head, _) = state {
            // Its body is still coming: answered 408, and the connection closed after it.
            state = .answeredEarly
            self.headArrivedAt = nil
            var refused = IngressRequest(head: head, body: ByteBuffer(), channel: context.channel, client: client, acceptsChunked: !isHTTP10, closes: true, lingers: true)
            refused.refusal = GatewayError.requestTimeout(afterSeconds: timeouts.read.nanoseconds / 1_000_000_000)
            send(refused)
        } else if headArrivedAt == nil, client.requestsInFlight == 0 {
            let idleSince = max(openedAt, client.lastAnsweredAt ?? openedAt)
            if now - idleSince >= timeouts.idle {
                context.close(promise: nil)
                return
            }
        }
        armTimer(context: context)
    }

    /// Hands a request to the router, counted in flight until its answer ends.
    private func send(_ request: IngressRequest) {
        client.requestDispatched()
        dispatch(request)
    }

    /// The ingress pipeline of a client connection, ending in an `IngressHandler`: SwiftNIO's HTTP/1.1
    /// server handlers with the read-ahead before its pipelining handler, and Archway's answer to requests
    /// that cannot be parsed after it. The server (`IngressChannel`) and the fuzz replay (`IngressReplay`)
    /// both build it here.
    static func addPipeline(
        to pipeline: ChannelPipeline.SynchronousOperations,
        bodyLimit: Int,
        server: String,
        peer: SocketAddress? = nil,
        connections: ClientConnections? = nil,
        unparsed: (@Sendable (GatewayError) -> Void)? = nil,
        timeouts: Timeouts = .standard,
        dispatch: @escaping (IngressRequest) -> Void
    ) throws {
        // Without SwiftNIO's outbound header check, a handler every response's parts pass through: a
        // response's fields are HTTPTypes', whose names are checked and whose values are made legal when
        // they are set, and the rest (`100 Continue`, the 400 for a malformed request) are SwiftNIO's own.
        // Heads are framed by `IngressResponseWriter`, not by the encoder, whose framing copied each
        // head's header array.
        var encoder = HTTPResponseEncoder.Configuration()
        encoder.automaticallySetFramingHeaders = false
        try pipeline.configureHTTPServerPipeline(
            withPipeliningAssistance: true,
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: encoder
        )
        let pipelining = try pipeline.handler(type: HTTPServerPipelineHandler.self)
        let readAhead = IngressReadAheadHandler()
        try pipeline.addHandler(readAhead, position: .before(pipelining))
        // Where SwiftNIO's own error handler would be: after the pipelining handler, which holds a parse
        // error back until the response before it has ended.
        try pipeline.addHandler(IngressProtocolErrorHandler(server: server, parts: readAhead, answered: unparsed), position: .after(pipelining))
        try pipeline.addHandler(IngressHandler(bodyLimit: bodyLimit, peer: peer, timeouts: timeouts, connections: connections, dispatch: dispatch))
    }

    /// A second `Host` field: the head's authority is the first, and the conversion keeps any other among
    /// the fields (`HTTPFields(_:splitCookie:)`), so one lookup in the fields' index finds it.
    private static let host = HTTPField.Name("host")!

    /// Why RFC 9112 §3.2 has a request refused: an HTTP/1.1 request must carry exactly one `Host`, since
    /// a proxy in front that reads the other one would route it elsewhere than Archway does.
    static func hostProblem(_ head: HTTPRequest, isHTTP10: Bool) -> String? {
        guard let authority = head.authority else {
            return isHTTP10 ? nil : "An HTTP/1.1 request needs a Host header."
        }
        if head.headerFields[host] != nil { return "A request must not carry more than one Host header." }
        // A host and port (RFC 3986 `host [":" port]`): a list (`a, b`), a path or user info is no Host.
        for byte in authority.utf8 where !isHostByte(byte) { return "The Host header is not a valid host and port." }
        return nil
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "["),
             UInt8(ascii: "]"), UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ";"), UInt8(ascii: "="): true
        default: false
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let nioHead):
            let head: HTTPRequest
            do {
                head = try HTTPRequest(ingress: nioHead)
            } catch {
                // A method HTTPTypes cannot hold (llhttp accepts none today): as malformed, the connection closes.
                return errorCaught(context: context, error: error)
            }
            isHTTP10 = nioHead.version.major == 1 && nioHead.version.minor == 0
            if let problem = Self.hostProblem(head, isHTTP10: isHTTP10) {
                // RFC 9112 §3.2: answered 400, unrouted, and its connection closed (its body is not read).
                state = .answeredEarly
                var refused = IngressRequest(head: head, body: ByteBuffer(), channel: context.channel, client: client, acceptsChunked: true, closes: true)
                refused.refusal = GatewayError.invalidRequest(problem, code: "invalid_request")
                send(refused)
                return
            }
            // SwiftNIO's parser stops after a `CONNECT` or an `Upgrade` (there is no upgrader): answered,
            // the connection closes, rather than stay open with nothing reading it.
            closesAfter = head.method == .connect || (head.headerFields[.upgrade] != nil && Self.hasUpgradeToken(head.headerFields[.connection]))
            headArrivedAt = .now()
            state = .receiving(head, nil)
            let length = head.headerFields[.contentLength].flatMap { Int($0) } ?? 0
            if length > bodyLimit {
                // Over the limit: the route answers 413 now, from the length alone, and the connection
                // closes after it. A client waiting for its `100 Continue` never sends the body; one already
                // sending learns at once rather than after the whole upload.
                answerEarly(head, context: context)
            } else if !isHTTP10, head.headerFields[.expect]?.lowercased() == "100-continue" {
                // The client waits for an answer before it sends its body (curl does from 1 MB): tell it to
                // go on rather than let it sit out its timer. HTTP/1.0 knows no `100` (RFC 9110 §10.1.1).
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
            }
        case .body(var part):
            guard case .receiving(let head, var body) = state else { return }
            state = .idle  // so `body` is the only reference while it grows
            let kept = body?.readableBytes ?? 0
            let room = max(0, bodyLimit + 1 - kept)
            if part.readableBytes > room { part = part.getSlice(at: part.readerIndex, length: room) ?? ByteBuffer() }
            if body == nil {
                body = part
            } else if part.readableBytes > 0 {
                body!.writeBuffer(&part)
            }
            state = .receiving(head, body)
            // A chunked body past the limit is answered 413 as soon as it is: an endless one would otherwise
            // be read for ever.
            if (body?.readableBytes ?? 0) > bodyLimit { answerEarly(head, body: body, context: context) }
        case .end:
            headArrivedAt = nil
            if case .answeredEarly = state { state = .idle }
            guard case .receiving(let head, let body) = state else { return }
            state = .idle
            send(IngressRequest(head: head, body: body ?? ByteBuffer(), channel: context.channel, client: client, acceptsChunked: !isHTTP10, closes: closesAfter))
        }
    }

    /// Dispatches the request being read before its body has all come (the route answers 413 from what it
    /// has); the rest of the body is dropped and the connection closes after the answer.
    private func answerEarly(_ head: HTTPRequest, body: ByteBuffer? = nil, context: ChannelHandlerContext) {
        state = .answeredEarly
        headArrivedAt = nil
        send(IngressRequest(head: head, body: body ?? ByteBuffer(), channel: context.channel, client: client, acceptsChunked: !isHTTP10, closes: true, lingers: true))
    }

    /// Whether a `Connection` field lists the `upgrade` token.
    static func hasUpgradeToken(_ connection: String?) -> Bool {
        guard let connection else { return false }
        return connection.split(separator: ",").contains { $0.trimmingPrefix(while: \.isWhitespace).lowercased().hasPrefix("upgrade") }
    }

    // Hummingbird allows half-closed connections, so a client that leaves shows only as the end of its
    // input, and nothing would notice until a write failed (or, while an upstream is silent, not at all).
    // Like other proxies, Archway takes the end of input as an abort: the request in flight is cancelled
    // (and with it its upstream call) and the channel closed.

    func channelInactive(context: ChannelHandlerContext) {
        client.clientClosed()
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The request in flight is cancelled; the connection closes once its answer (the cancelled
            // call's, or one needing no call: a health check, a 401) is written, or now when none is.
            client.clientClosed()
            if client.requestsInFlight == 0 { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request is answered by `IngressProtocolErrorHandler`, which closes its connection;
        // what arrives here is a socket error, after which the connection cannot be trusted: close it.
        state = .idle
        context.close(promise: nil)
    }
}

/// A request read in full, handed from `IngressHandler` to the router's task.
struct IngressRequest {
    var head: HTTPRequest
    var body: ByteBuffer
    var channel: any Channel
    /// The connection's requests, cancelled when the client goes away.
    var client: ClientConnection
    /// Whether the client can read a chunked body: not an HTTP/1.0 one (RFC 9112 §6.1), whose streams are
    /// sent as they come and end with the connection.
    var acceptsChunked: Bool
    /// Whether the connection closes after the answer whatever the client asked: it was answered before
    /// its body was read, or the parser reads nothing after it (`CONNECT`, `Upgrade`).
    var closes = false
    /// Whether the client may still be sending the body the answer came before: the connection then
    /// closes its side first and reads on for a moment, so the client reads the answer rather than a reset.
    var lingers = false
    /// Answered with this error without being routed (a request without exactly one Host).
    var refusal: GatewayError?
}
