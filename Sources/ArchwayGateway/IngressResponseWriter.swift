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
    private let server: String
    /// Whether the connection closes after this response: the client asked to, or a body of unknown size
    /// goes to a client that cannot read chunks and so ends with the connection.
    let closes: Bool
    private let answersConnect: Bool
    private let chunked: Bool
    private let holdsBody: Bool
    private var held: ByteBuffer?
    /// Whether `finish` has queued the end.
    private(set) var endQueued = false

    /// - Parameters:
    ///   - server: the `Server` header.
    ///   - closeRequested: whether the client asked to close the connection after this response.
    ///   - answersConnect: whether the request was a `CONNECT`, whose answer SwiftNIO sends without a body.
    ///   - chunked: whether a body of unknown size may be chunked; if not (an HTTP/1.0 client), it ends
    ///     with the connection.
    ///   - holdsBody: whether the body's size is known, so it is held and sent with its length.
    init(
        channel: any Channel, head: HTTPResponse, server: String, closeRequested: Bool, answersConnect: Bool = false,
        chunked: Bool = true, holdsBody: Bool
    ) {
        self.channel = channel
        self.head = head
        self.server = server
        self.closes = closeRequested || (!holdsBody && !chunked)
        self.answersConnect = answersConnect
        self.chunked = chunked
        self.holdsBody = holdsBody
    }

    private func wireHead(_ response: HTTPResponse) -> HTTPServerResponsePart {
        .head(Self.head(of: response, date: HTTPDate.now, server: server, closes: closes, answersConnect: answersConnect, chunked: chunked))
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
            channel.write(wireHead(head), promise: nil)
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
    /// together and the client side is woken once for them rather than once each. (Returning at once
    /// instead saves the task a resumption, but its teardown then runs before that flush: 15–20 µs later
    /// at one connection in README's round 13.)
    func finish(_ trailingHeaders: HTTPFields?) async throws {
        if let head { channel.write(wireHead(head), promise: nil) }
        if let held { channel.write(HTTPServerResponsePart.body(.byteBuffer(held)), promise: nil) }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(HTTPServerResponsePart.end(trailingHeaders.map(HTTPHeaders.init)), promise: written)
        channel.eventLoop.execute { [channel] in channel.flush() }
        endQueued = true
        try await written.futureResult.get()
    }

    /// The head as it goes out: the response's fields with `Date` and `Server` (and `Connection: close`
    /// when the connection `closes`, `Connection: keep-alive` when an HTTP/1.0 client's does not) after them, framed as SwiftNIO's encoder would frame it (it is told
    /// not to: `IngressHandler`). A status that cannot have a body, or an answer to a `CONNECT`, has
    /// neither framing header; a body with a `content-length` (Hummingbird sets it when the size is known)
    /// goes as it is; any other is chunked, unless the client cannot read chunks (`chunked` false: an
    /// HTTP/1.0 client), when it is sent as it comes and ends with the connection. Built in one array:
    /// setting the fields on the response copied its field storage, and the encoder's framing copied the
    /// head's header array.
    static func head(
        of response: HTTPResponse, date: String, server: String, closes: Bool, answersConnect: Bool = false, chunked: Bool = true
    ) -> HTTPResponseHead {
        let status = HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase)
        let mayHaveBody = status.mayHaveResponseBody && !answersConnect
        var fields: [(String, String)] = []
        fields.reserveCapacity(response.headerFields.count + 4)
        var hasLength = false
        for field in response.headerFields {
            switch field.name {
            case .date, .server, .transferEncoding:
                continue
            case .connection where closes:
                continue
            case .contentLength:
                guard mayHaveBody else { continue }
                hasLength = true
            default:
                break
            }
            fields.append((field.name.rawName, field.value))
        }
        fields.append(("Date", date))
        fields.append(("Server", server))
        if closes {
            fields.append(("Connection", "close"))
        } else if !chunked {
            // An HTTP/1.0 client keeps its connection only when the answer says so.
            fields.append(("Connection", "keep-alive"))
        }
        if mayHaveBody, !hasLength, chunked { fields.append(("transfer-encoding", "chunked")) }
        return HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(fields))
    }
}
