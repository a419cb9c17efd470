import ArchwayCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Answers a request SwiftNIO's parser cannot read with an OpenAI-shaped error, then lets the client read
/// it before the connection goes. In place of SwiftNIO's `HTTPServerProtocolErrorHandler`, whose answer is
/// a bare `400` without a body, closed at once: with the client's unread bytes still in the socket, that
/// close is a reset, which can destroy the answer before the client reads it (an oversized header block
/// got no answer at all).
///
/// The answer: 431 `request_header_fields_too_large` for a header block over SwiftNIO's limit; 400
/// `invalid_body` for a body that cannot be read (a malformed chunk, an end before the body's length:
/// anything after the head); 400 `invalid_request` for anything else. After it, the output is shut (the
/// client reads the answer and then the end), what the client still sends is read and dropped, and the connection closes
/// when the client closes its side or `linger` has passed. An error in the middle of a response (a
/// pipelined request after one being answered) cannot be answered: the connection closes at once.
final class IngressProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How long a client has to read the answer and close before the connection is closed for it.
    static let linger = TimeAmount.seconds(2)

    private let server: String
    /// Whether a request's body is being read, so a parse error now is the body's: the read-ahead
    /// handler unwraps every part already, so this one does not unwrap them again.
    private let parts: IngressReadAheadHandler
    /// A response's head has been written and its end not yet.
    private var responding = false
    /// The request could not be parsed: everything after it is dropped.
    private var failed = false
    private var lingerTimer: Scheduled<Void>?
    /// Told of each answer, so requests the parser refused still count in the HTTP metric.
    private let answered: (@Sendable (GatewayError) -> Void)?

    init(server: String, parts: IngressReadAheadHandler, answered: (@Sendable (GatewayError) -> Void)? = nil) {
        self.server = server
        self.parts = parts
        self.answered = answered
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responding = true
        case .end: responding = false
        default: break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a parse error the decoder reports every further read as an error of its own: dropped.
        guard !failed else { return }
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        failed = true
        guard !responding else {
            context.close(promise: nil)
            return
        }
        let answer = Self.answer(to: parseError, inBody: parts.readingBody)
        answered?(answer)
        let body = answer.body()
        let response = HTTPResponse(status: answer.status, headerFields: [.contentType: "application/json", .contentLength: String(body.readableBytes)])
        let head = IngressResponseWriter.head(of: response, date: HTTPDate.now, server: server, closes: true)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let loop = context.eventLoop.assumeIsolated()
        written.futureResult.assumeIsolated().whenComplete { result in
            guard case .success = result else { return context.close(promise: nil) }
            context.close(mode: .output, promise: nil)
        }
        lingerTimer = loop.scheduleTask(in: Self.linger) { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if failed, let event = event as? ChannelEvent, event == .inputClosed {
            // The client has read the answer and closed: nothing of it is left unread, so this close is
            // no reset.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        lingerTimer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        lingerTimer = nil
    }

    /// The error a client gets for a request the parser refused. Its message names the parser's reason,
    /// never the client's bytes.
    static func answer(to error: HTTPParserError, inBody: Bool) -> GatewayError {
        switch error {
        case .headerOverflow where !inBody:
            GatewayError(
                status: .requestHeaderFieldsTooLarge,
                type: "invalid_request_error",
                code: "request_header_fields_too_large",
                message: "The request's header block is larger than the gateway accepts.",
                shortDescription: "request_header_fields_too_large"
            )
        case _ where inBody:
            GatewayError(
                status: .badRequest,
                type: "invalid_request_error",
                code: "invalid_body",
                message: "The request body could not be read (\(error)).",
                shortDescription: "invalid_body"
            )
        default:
            GatewayError(
                status: .badRequest,
                type: "invalid_request_error",
                code: "invalid_request",
                message: "The request could not be read as HTTP/1.1 (\(error)).",
                shortDescription: "invalid_request"
            )
        }
    }
}
