import ArchwayProviders
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// A bare NIO HTTP/1.1 upstream whose replies are scripted per request, and which counts connections:
/// what the pool tests need to see (reuse, closes, silence) and a Hummingbird server would hide.
final class RawUpstream: Sendable {
    enum Reply: Sendable {
        /// 200 with a JSON body; the connection stays open.
        case json(String)
        /// Never answers; waits for the client to close.
        case silent
        /// Closes the connection without a word.
        case closeWithoutAnswer
        /// A chunked 200 body sent part by part.
        case stream([String], interval: Duration)
        /// A body of `count` bytes cycling through `a`…`z`.
        case large(Int)
        /// A chunked 200 body whose connection closes after `parts`, before the body's end.
        case cut([String])
        /// Reads the request, works on it for a while, then closes without a word.
        case closeAfter(Duration)
        /// A head of this status and version with these headers, then `body`; then the connection closes
        /// (`close`), or the answer stalls, its end never sent.
        case head(HTTPResponseStatus, HTTPVersion, [(String, String)], body: String, close: Bool)
        /// Over TLS: the TCP connection closes without TLS's `close_notify`, after these parts of a chunked
        /// 200 body, if any (none: before any answer).
        case raggedClose([String]?)
    }

    struct Counts: Sendable {
        var connections = 0
        var closed = 0
        var requests = 0
        /// The `host` header of each request, in order.
        var hosts: [String] = []
    }

    private let script: @Sendable (_ index: Int) -> Reply
    private let state = Mutex(Counts())

    init(_ script: @escaping @Sendable (_ index: Int) -> Reply) {
        self.script = script
    }

    var counts: Counts { state.withLock { $0 } }

    /// Waits up to two seconds for `condition` to hold of the counts.
    func eventually(_ condition: (Counts) -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if condition(counts) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition(counts)
    }

    static func largeBody(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    /// Serves for the duration of `body`, which gets the origin to call (`localhost` over TLS).
    func run<Value: Sendable>(tls: NIOSSLContext? = nil, _ body: @Sendable (UpstreamOrigin) async throws -> Value) async throws -> Value {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(RaggedCloser())
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress!.port!
        let origin = UpstreamOrigin(tls: tls != nil, host: tls != nil ? "localhost" : "127.0.0.1", port: port)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withThrowingDiscardingTaskGroup { connections in
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connections.addTask { await self.serve(connection) }
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body(origin)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        state.withLock { $0.connections += 1 }
        defer { state.withLock { $0.closed += 1 } }
        try? await connection.executeThenClose { inbound, outbound in
            for try await part in inbound {
                if case .head(let head) = part {
                    state.withLock { $0.hosts.append(head.headers["host"].joined(separator: ",")) }
                }
                guard case .end = part else { continue }
                let index = state.withLock { counts in
                    counts.requests += 1
                    return counts.requests - 1
                }
                switch script(index) {
                case .json(let text):
                    var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(text.utf8.count))])
                    headers.add(name: "x-request-index", value: String(index))
                    try await outbound.write(contentsOf: [
                        .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)),
                        .body(.byteBuffer(ByteBuffer(string: text))),
                        .end(nil),
                    ])
                case .silent:
                    continue
                case .closeWithoutAnswer:
                    return
                case .stream(let parts, let interval):
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])))
                    for part in parts {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: part))))
                        try await Task.sleep(for: interval)
                    }
                    try await outbound.write(.end(nil))
                case .cut(let parts):
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "application/json"])))
                    for part in parts {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: part))))
                    }
                    return
                case .closeAfter(let work):
                    try await Task.sleep(for: work)
                    return
                case .head(let status, let version, let headers, let body, let close):
                    try await outbound.write(.head(HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(headers))))
                    if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
                    if close { return }
                case .raggedClose(let parts):
                    if let parts {
                        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])))
                        for part in parts { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: part)))) }
                    }
                    let channel = connection.channel
                    try await channel.eventLoop.submit {
                        try channel.pipeline.syncOperations.handler(type: RaggedCloser.self).cut()
                    }.get()
                    return
                case .large(let count):
                    let bytes = Self.largeBody(count)
                    try await outbound.write(contentsOf: [
                        .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": String(count)])),
                        .body(.byteBuffer(ByteBuffer(bytes: bytes))),
                        .end(nil),
                    ])
                }
            }
        }
    }

    /// A self-signed certificate for `localhost` and its key, as a server context and the trust root a
    /// client needs to accept it.
    static func selfSignedTLS() throws -> (server: NIOSSLContext, trust: NIOSSLCertificate) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("localhost") }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.dnsName("localhost")])
            },
            issuerPrivateKey: .init(key)
        )
        let nioCertificate = try NIOSSLCertificate(bytes: try certificate.serializeAsPEM().derBytes, format: .der)
        let nioKey = try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)
        let server = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(nioCertificate)], privateKey: .privateKey(nioKey)))
        return (server, nioCertificate)
    }
}

/// Sits between the socket and the TLS handler: closing from here closes the TCP connection without the
/// TLS handler's `close_notify`, as many servers and load balancers do.
private final class RaggedCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func cut() {
        context?.close(promise: nil)
    }
}
