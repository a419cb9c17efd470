import ArchwayCore
import ArchwayExecution
import ArchwayTelemetry
import ArchwayWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Tracing

/// Writes a model stream to the client in its wire format as the chunks arrive. It only encodes: the
/// stream itself records the call and ends its spans, however the relay ends.
///
/// A stream that fails after it started ends with the wire's error event (OpenAI: a final
/// `data: {"error":…}` and no `[DONE]`; Anthropic: `event: error`), so the client's SDK raises.
struct StreamRelay: Sendable {
    enum Wire: Sendable {
        case openAI(includeUsage: Bool)
        case anthropic
    }

    let stream: ModelStream
    let wire: Wire
    let client: ClientConnection?
    /// Ends the request's SERVER span: a stream that breaks after its 200 says so there (`error.type`).
    let serverSpanEnd: ServerSpanEnd?

    init(stream: ModelStream, wire: Wire, context: GatewayRequestContext) {
        self.stream = stream
        self.wire = wire
        self.client = context.client
        self.serverSpanEnd = context.serverSpanEnd
    }

    func response(headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers.append(contentsOf: extra)
        headers[HTTPField.Name("x-accel-buffering")!] = "no"
        let relay = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Whatever ends the relay (the client gone, a cancelled task), the call ends with it; a
            // stream that already ended keeps its own outcome.
            defer { relay.stream.abandon() }
            try await ClientConnection.run(on: relay.client) {
                try await relay.run(&writer)
            }
        })
    }

    private func run(_ writer: inout any ResponseBodyWriter) async throws {
        let model = stream.model
        var anthropic = AnthropicStreamEncoder(model: model)
        // The upstream's Anthropic events went out as bytes, closing events included.
        var relayedEvents = false
        var buffer = ByteBuffer()
        do {
            for try await relayed in stream {
                buffer.clear()
                try encode(relayed, model: model, anthropic: &anthropic, relayedEvents: &relayedEvents, into: &buffer)
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
            buffer.clear()
            switch wire {
            case .openAI: buffer.writeStaticString("data: [DONE]\n\n")
            case .anthropic: if !relayedEvents { try anthropic.finish(into: &buffer) }
            }
            try await writer.write(buffer)
            try await writer.finish(nil)
        } catch let error as GatewayError where !error.isClientClosed {
            // The upstream failed mid-stream (the stream has recorded it): tell the client's SDK. The
            // client may be gone too, so a failed write here changes nothing.
            await end(with: error, writer: &writer)
        } catch is CancellationError where client?.wasCut == true {
            // Cut by the gateway's shutdown, not by the client: it is told why.
            await end(with: .shuttingDown, writer: &writer)
        } catch {
            // The client went away mid-stream: its SERVER span says so (no ERROR status: nothing failed
            // on the gateway's side), as its GenAI span does.
            serverSpanEnd?.fail(GatewayError.clientClosed.shortDescription, isError: false)
            throw error
        }
    }

    /// Ends the stream with the wire's error event.
    private func end(with error: GatewayError, writer: inout any ResponseBodyWriter) async {
        // The status went out as 200; the span and the metric say the answer did not complete, and why.
        serverSpanEnd?.fail(error.shortDescription, isError: true)
        var buffer = ByteBuffer()
        switch wire {
        case .openAI:
            ServerSentEvent.writeData((try? WireJSON.encodeData(OpenAIErrorBody(error))) ?? Data(), to: &buffer)
        case .anthropic:
            try? AnthropicStreamEncoder.writeError(error, into: &buffer)
        }
        try? await writer.write(buffer)
        try? await writer.finish(nil)
    }

    private func encode(
        _ relayed: Relayable<ChatChunk>,
        model: String,
        anthropic: inout AnthropicStreamEncoder,
        relayedEvents: inout Bool,
        into buffer: inout ByteBuffer
    ) throws {
        var chunk = relayed.value
        switch wire {
        case .openAI(let includeUsage):
            // Usage is always asked of the upstream (telemetry needs it); the client gets it only if it asked.
            let dropUsage = chunk.usage != nil && !includeUsage
            if dropUsage, chunk.choices.isEmpty { return }
            if let bytes = relayed.wire, bytes.format == .openAI {
                // Relayed as the upstream sent it, with the client's model name.
                buffer.writeStaticString("data: ")
                OpenAIPassthrough.write(bytes, model: model, droppingUsage: dropUsage, into: &buffer)
                buffer.writeStaticString("\n\n")
                return
            }
            if dropUsage { chunk.usage = nil }
            OpenAIChatChunk.writeEvent(chunk, into: &buffer)
        case .anthropic:
            if let bytes = relayed.wire, bytes.format == .anthropic {
                // The upstream's event as it sent it, with the client's model name.
                relayedEvents = true
                OpenAIPassthrough.write(bytes, model: model, into: &buffer)
                return
            }
            // After relayed events only the usage chunk comes without bytes: its events went already.
            if relayedEvents { return }
            try anthropic.encode(chunk, into: &buffer)
        }
    }
}
