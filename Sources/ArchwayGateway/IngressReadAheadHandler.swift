import NIOCore
import NIOHTTP1

/// Keeps a client connection's socket registered for reading while its one request is answered.
///
/// SwiftNIO's `HTTPServerPipelineHandler` holds back `read()` from a request's end until its response's
/// end, so that pipelined requests wait in the socket. The channel then drops its read interest after
/// every request and asks for it again after every response: two `epoll_ctl` calls a request, about 2 %
/// of a request's CPU, for clients that almost never pipeline. Sitting between the decoder and that
/// handler, this one asks for the next read itself while at most one request is unanswered. A pipelining
/// client's next request is then read and queued in the pipeline handler, and from the second unanswered
/// request on the pipeline handler holds reads back as before: at most one read's worth of requests more
/// is held in memory.
final class IngressReadAheadHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart

    /// Request heads read minus response ends written.
    private var unanswered = 0
    /// A request's head has been read and its end not yet (`IngressProtocolErrorHandler` asks: a parse
    /// error now is its body's). Kept here, where the parts are unwrapped already.
    private(set) var readingBody = false
    /// Once the server quiesces, the pipeline handler decides what is still read.
    private var quiescing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            readingBody = true
        case .end:
            readingBody = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        if unanswered == 1, !quiescing {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { quiescing = true }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { unanswered = max(0, unanswered - 1) }
        context.write(data, promise: promise)
    }
}
