// The spike of issue 16: the smallest event-loop-native HTTP/1.1 forwarder. SwiftNIO's server pipeline
// in, a pool of NIO HTTP/1.1 client connections per event loop out, no task per request, the request's
// head, body and end in one flush, the upstream's answer relayed part by part as it arrives.
// `bench-nio-forwarder <listen port> <upstream port>`; measured by `make bench` as `nio-forwarder`.
import NIOCore
import NIOHTTP1
import NIOPosix

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: bench-nio-forwarder <listen port> <upstream port>")
    exit(2)
}

/// Idle upstream connections of one event loop. Touched only on that loop.
final class UpstreamPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    let port: Int
    private var idle: [any Channel] = []

    init(eventLoop: any EventLoop, port: Int) {
        self.eventLoop = eventLoop
        self.port = port
    }

    func lease() -> EventLoopFuture<any Channel> {
        while let channel = idle.popLast() {
            if channel.isActive { return eventLoop.makeSucceededFuture(channel) }
        }
        return ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.pipeline.addHTTPClientHandlers().flatMap {
                    channel.pipeline.addHandler(UpstreamHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port)
    }

    func release(_ channel: any Channel) {
        if channel.isActive { idle.append(channel) }
    }
}

/// One pool per event loop, made on first use on that loop.
final class Pools: @unchecked Sendable {
    private let key = ThreadSpecificVariable<UpstreamPool>()
    let port: Int
    init(port: Int) { self.port = port }

    func pool(on eventLoop: any EventLoop) -> UpstreamPool {
        if let pool = key.currentValue { return pool }
        let pool = UpstreamPool(eventLoop: eventLoop, port: port)
        key.currentValue = pool
        return pool
    }
}

/// The upstream side of an exchange: relays the answer's parts to the client's channel.
final class UpstreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    var client: (any Channel)?
    var onEnd: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)), promise: nil)
        case .body(let body):
            client.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        case .end(let trailers):
            client.writeAndFlush(HTTPServerResponsePart.end(trailers), promise: nil)
            self.client = nil
            let done = onEnd
            onEnd = nil
            done?()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client?.close(promise: nil)
        client = nil
    }
}

/// The client side: collects a request (head and body) and forwards it on a pooled upstream connection.
final class ForwardHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let pools: Pools
    var head: HTTPRequestHead?
    var body: ByteBuffer?

    init(pools: Pools) { self.pools = pools }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            guard var forwarded = head else { return }
            forwarded.headers.replaceOrAdd(name: "host", value: "127.0.0.1:\(pools.port)")
            let head = forwarded
            let body = self.body
            let client = context.channel
            let pool = pools.pool(on: context.eventLoop)
            pool.lease().whenComplete { result in
                switch result {
                case .success(let upstream):
                    let handler = try! upstream.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                    handler.client = client
                    handler.onEnd = { pool.release(upstream) }
                    upstream.write(HTTPClientRequestPart.head(head), promise: nil)
                    if let body { upstream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
                    upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                case .failure:
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "0")
                    client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .badGateway, headers: headers)), promise: nil)
                    client.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                }
            }
            self.head = nil
            self.body = nil
        }
    }
}

let group = MultiThreadedEventLoopGroup.singleton
let pools = Pools(port: upstreamPort)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap {
            channel.pipeline.addHandler(ForwardHandler(pools: pools))
        }
    }
    .bind(host: "127.0.0.1", port: listenPort)
    .wait()
print("nio-forwarder listening on \(server.localAddress!)")
try server.closeFuture.wait()
