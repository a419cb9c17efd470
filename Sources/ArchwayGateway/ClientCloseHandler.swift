import NIOCore

/// Closes the connection when the client closes its side.
///
/// Hummingbird allows half-closed connections, so a client that goes away only shows as end of input,
/// and the connection stays open until a write fails. Like other proxies, Archway treats the client's
/// end of input as an abort: closing the channel fires `closeFuture`, which `ClientDisconnectWatch` turns
/// into cancellation of the request and its upstream call, even while the upstream is silent.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = Any

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
