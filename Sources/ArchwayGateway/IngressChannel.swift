import ArchwayCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Archway's HTTP/1.1 ingress: SwiftNIO's server pipeline and one channel handler in front of the router,
/// in place of Hummingbird's `NIOAsyncChannel` bridge.
///
/// Hummingbird's HTTP/1 channel runs a task per connection that reads every request part through an
/// async sequence and writes every response part through an async writer; under load that bridge was
/// 28 % of the gateway's CPU. Here a request is read on its event loop (head, then the body up to
/// `server.max_body_bytes`), one task per request runs the router on that same loop, and the response
/// leaves with plain channel writes: head, body and end in one flush when the body's size is known, a
/// stream chunk by chunk, a write awaited while the socket is behind, so a slow client holds the producer back.
///
/// The router, middleware and request context stay Hummingbird's (the in-process tests drive the same
/// router); keep-alive, pipelining and graceful shutdown are SwiftNIO's `HTTPServerPipelineHandler`,
/// quiesced by Hummingbird's server; a request that cannot be parsed is answered by
/// `IngressProtocolErrorHandler`.
struct IngressChannel<Responder: HTTPResponder>: ServerChildChannel where Responder.Context == GatewayRequestContext {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let responder: Responder
    let maxBodyBytes: Int
    let serverName: String
    let timeouts: IngressHandler.Timeouts
    let connections: ClientConnections?
    let logger: Logger
    /// Told of every request answered before the router (unparsable, or refused for its `Host`) with the
    /// method it had, if any: they get no span, but must count in `http.server.request.duration`.
    var refused: (@Sendable (_ method: String, _ error: GatewayError) -> Void)?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            var unparsed: (@Sendable (GatewayError) -> Void)?
            if let refused {
                // The parser failed before there was a method to name.
                unparsed = { error in refused("_OTHER", error) }
            }
            try IngressHandler.addPipeline(to: channel.pipeline.syncOperations, bodyLimit: maxBodyBytes, server: serverName, peer: channel.remoteAddress, connections: connections, unparsed: unparsed, timeouts: timeouts) { request in
                Task { await respond(to: request) }
            }
            return Value(channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        // A connection lasts as long as its channel; its requests run in tasks of their own.
        await withTaskCancellationHandler {
            try? await value.channel.closeFuture.get()
        } onCancel: {
            value.channel.close(promise: nil)
        }
    }

    /// How long a connection answered before its body was read reads on before it closes.
    static var linger: TimeAmount { .seconds(2) }

    /// Runs the router for one request and writes its response.
    func respond(to ingress: IngressRequest) async {
        let request = Request(head: ingress.head, body: RequestBody(buffer: ingress.body))
        let channel = ingress.channel
        // As Hummingbird's application does: a request ID in the request's logger (`context.id` reads it),
        // when that logger can log at all: only debug messages use it (Hummingbird's decode errors), and
        // the ID costs a copy of the logger's storage and its metadata table on every request.
        var logger = self.logger
        if logger.logLevel <= .debug {
            logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        }
        var context = GatewayRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        context.client = ingress.client
        let response: Response
        do {
            if let refusal = ingress.refusal {
                refused?(ServerSpanMiddleware.conventionalMethod(request.method.rawValue), refusal)
                response = refusal.response()
            } else {
                response = try await responder.respond(to: request, context: context)
            }
        } catch {
            // Errors became OpenAI-shaped responses inside the router (`OpenAIErrorMiddleware`); this is
            // only the last resort Hummingbird's application has too.
            response = Response(status: (error as? any HTTPResponseError)?.status ?? .internalServerError)
        }
        if response.status.code == 499 {
            // The client left (499 is for spans and metrics): one that only closed its side reads on, but
            // gets no status HTTP does not define.
            channel.close(promise: nil)
            ingress.client.requestAnswered()
            return
        }
        // `Date`, `Server` and `Connection: close` are added as the head is written (`IngressResponseWriter`).
        let writer = IngressResponseWriter(
            channel: channel, head: response.head, server: serverName,
            closeRequested: ingress.closes || ingress.client.isClosed || request.headers[.connection].map { $0.lowercased().contains("close") } ?? false,
            answersConnect: request.method == .connect, chunked: ingress.acceptsChunked,
            holdsBody: response.body.contentLength != nil
        )
        do {
            try await response.body.write(writer)
            if ingress.lingers, writer.endQueued {
                // The client may still be sending the body this answer came before: closing now would reset
                // the connection, and the answer with it. Our side closes; what the client sends meanwhile
                // is read and dropped, until it closes or a moment has passed.
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
            } else if writer.closes || !writer.endQueued || ingress.client.isClosed {
                // A body that returned without finishing left a response that cannot be completed; a client
                // that closed its side takes no further request.
                channel.close(promise: nil)
            }
        } catch {
            // The client is gone or the body failed half-way: the response cannot be completed.
            channel.close(promise: nil)
        }
        ingress.client.requestAnswered()
    }
}
