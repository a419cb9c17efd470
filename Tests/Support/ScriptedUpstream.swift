public import HTTPTypes
public import Hummingbird
import Logging
public import NIOCore
import ServiceLifecycle
import Synchronization

/// A provider on loopback whose answers a test scripts: each request is recorded, then answered by the
/// test's handler. Used by the provider, execution and gateway tests instead of a real provider.
public final class ScriptedUpstream: Sendable {
    /// One request as the upstream received it.
    public struct Received: Sendable {
        public var path: String
        /// The query after `?`, when there is one.
        public var query: String? = nil
        public var headers: HTTPFields
        public var body: String
    }

    public typealias Handler = @Sendable (_ received: Received, _ index: Int) async throws -> Response

    private let handler: Handler
    private let log = Mutex<[Received]>([])

    public init(_ handler: @escaping Handler) {
        self.handler = handler
    }

    /// What the upstream received so far, in order.
    public var received: [Received] { log.withLock { $0 } }

    /// Runs the upstream for the duration of `body`, passing its base URL (`http://127.0.0.1:PORT`).
    public func run<Value: Sendable>(_ body: @Sendable (_ baseURL: String) async throws -> Value) async throws -> Value {
        let router = Router()
        router.post("**") { request, _ -> Response in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 24))
            let received = Received(path: request.uri.path, query: request.uri.query, headers: request.headers, body: text)
            let index = self.log.withLock { log in
                log.append(received)
                return log.count - 1
            }
            return try await self.handler(received, index)
        }
        var logger = Logger(label: "scripted-upstream")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let serviceGroup = ServiceGroup(configuration: .init(services: [application], logger: logger))
            group.addTask { try await serviceGroup.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            do {
                let value = try await body("http://127.0.0.1:\(port)")
                await serviceGroup.triggerGracefulShutdown()
                try await group.waitForAll()
                return value
            } catch {
                await serviceGroup.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}

extension Response {
    /// A JSON answer.
    public static func scriptedJSON(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A server-sent event stream of `events` (each a `data:` payload), written with `pause` between
    /// them; with `done`, closed by `[DONE]`.
    public static func scriptedEvents(_ events: [String], done: Bool = true, pause: Duration = .zero) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
            for event in events {
                try await writer.write(ByteBuffer(string: "data: \(event)\n\n"))
                if pause > .zero { try await Task.sleep(for: pause) }
            }
            if done { try await writer.write(ByteBuffer(string: "data: [DONE]\n\n")) }
            try await writer.finish(nil)
        })
    }
}
