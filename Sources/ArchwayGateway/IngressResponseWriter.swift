import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Writes a response's head, body and end to the client's channel, as SwiftNIO's HTTP/1 parts.
///
/// A body of known size (JSON answers, errors) is held until its end, so the three parts leave in one
/// flush; a stream's head goes with its first chunk, and a chunk's write is awaited while the socket is
/// behind (back-pressure).
///
/// A class: Hummingbird takes the writer as `any ResponseBodyWriter`, where a struct this size lived in a
/// box and was copied into and out of it (about 14 retains a response); a class reference sits in the
/// existential inline, in one allocation as the box was.
final class IngressResponseWriter: ResponseBodyWriter {
    let channel: any Channel
    private var head: HTTPResponse?
    private let holdsBody: Bool
    private var held: ByteBuffer?

    init(channel: any Channel, head: HTTPResponse, holdsBody: Bool) {
        self.channel = channel
        self.head = head
        self.holdsBody = holdsBody
    }

    func write(_ buffer: ByteBuffer) async throws {
        if holdsBody {
            if held == nil {
                held = buffer
            } else {
                var buffer = buffer
                held!.writeBuffer(&buffer)
            }
            return
        }
        if let head {
            self.head = nil
            channel.write(HTTPServerResponsePart.head(Self.framed(head)), promise: nil)
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: written)
        // Wait for the write only while the socket is behind (back-pressure): awaiting every chunk's write
        // would cost a task hop per chunk though the bytes have usually left already.
        if !channel.isWritable {
            try await written.futureResult.get()
        } else if !channel.isActive {
            throw ChannelError.ioOnClosedChannel
        }
    }

    /// Returns once the end has been written, so the SERVER span's duration covers the last byte. The
    /// flush waits until the loop has run what this pass queued, so the answers finished in one pass leave
    /// together and the client side is woken once for them rather than once each.
    func finish(_ trailingHeaders: HTTPFields?) async throws {
        if let head { channel.write(HTTPServerResponsePart.head(Self.framed(head)), promise: nil) }
        if let held { channel.write(HTTPServerResponsePart.body(.byteBuffer(held)), promise: nil) }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(HTTPServerResponsePart.end(trailingHeaders.map(HTTPHeaders.init)), promise: written)
        channel.eventLoop.execute { [channel] in channel.flush() }
        try await written.futureResult.get()
    }

    /// The head framed as SwiftNIO's encoder would frame it, which is told not to (`IngressHandler`): a
    /// status that cannot have a body has neither framing header, a body with a `content-length`
    /// (Hummingbird sets it when the size is known) is sent as it is, any other is chunked. The
    /// encoder's framing copied each head's header array; here the head is this writer's alone.
    static func framed(_ response: HTTPResponse) -> HTTPResponseHead {
        var head = HTTPResponseHead(response)
        if !head.status.mayHaveResponseBody {
            head.headers.remove(name: "content-length")
            head.headers.remove(name: "transfer-encoding")
        } else if head.headers.contains(name: "content-length") {
            if head.headers.contains(name: "transfer-encoding") { head.headers.remove(name: "transfer-encoding") }
        } else {
            head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
        return head
    }
}
