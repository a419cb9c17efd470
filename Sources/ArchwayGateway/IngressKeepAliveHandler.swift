import NIOCore
import NIOHTTP1

/// Says `Connection: close` on every request that does not keep its connection alive, before the request
/// is turned into HTTPTypes (which have no HTTP version): an HTTP/1.0 request without
/// `Connection: keep-alive` is answered and then its connection is closed, as HTTP/1.0 clients expect.
final class IngressKeepAliveHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive, !head.headers.contains(name: "connection") else {
            return context.fireChannelRead(data)
        }
        head.headers.add(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
