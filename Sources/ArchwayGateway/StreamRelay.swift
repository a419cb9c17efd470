import ArchwayCore
import ArchwayProviders
import ArchwayTelemetry
import ArchwayWire
import HTTPTypes
import Hummingbird
import Foundation
import NIOCore

/// Relays an upstream chunk stream to the client in its wire format as the chunks arrive, and records
/// the call's outcome (time to first chunk, usage, finish reasons) as it goes.
///
/// A stream that fails after it started ends with the wire's error event (OpenAI: a final
/// `data: {"error":…}` and no `[DONE]`; Anthropic: `event: error`), so the client's SDK raises.
struct StreamRelay: Sendable {
    enum Wire: Sendable {
        case openAI(includeUsage: Bool)
        case anthropic
    }

    let executor: ModelCallExecutor
    let call: ModelCallExecutor.Call
    let stream: ChatChunkStream
    let exchange: UpstreamExchange
    let clientModel: String
    let wire: Wire
    let channel: (any Channel)?

    func response() -> Response {
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[HTTPField.Name("x-accel-buffering")!] = "no"
        let relay = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await ClientConnections.run(on: relay.channel) {
                try await relay.run(&writer)
            }
        })
    }

    private func run(_ writer: inout any ResponseBodyWriter) async throws {
        var call = self.call
        let captureContent = executor.telemetry.captureContent
        var anthropic = AnthropicStreamEncoder(model: clientModel)
        var output = ChatResponse(id: "", model: clientModel, created: 0, choices: [], usage: nil)
        var failure: GatewayError?
        var clientGone = false
        var buffer = ByteBuffer()
        do {
            for try await var chunk in stream {
                call.observe(chunk, into: &output, assembleOutput: captureContent)
                chunk.model = clientModel
                buffer.clear()
                switch wire {
                case .openAI(let includeUsage):
                    if let wire = chunk.openAIWire {
                        // Relayed as the upstream sent it, with the client's model name (and usage only if asked).
                        let dropUsage = chunk.usage != nil && !includeUsage
                        if dropUsage, chunk.choices.isEmpty { continue }
                        buffer.writeStaticString("data: ")
                        OpenAIPassthrough.write(wire, model: clientModel, droppingUsage: dropUsage, into: &buffer)
                        buffer.writeStaticString("\n\n")
                        break
                    }
                    if chunk.usage != nil, !includeUsage {
                        if chunk.choices.isEmpty { continue }
                        chunk.usage = nil
                    }
                    ServerSentEvent.writeData(try WireJSON.encodeData(OpenAIChatChunk(chunk)), to: &buffer)
                case .anthropic:
                    try anthropic.encode(chunk, into: &buffer)
                }
                if buffer.readableBytes > 0 {
                    do {
                        try await writer.write(buffer)
                    } catch {
                        clientGone = true
                        throw error
                    }
                }
            }
            buffer.clear()
            switch wire {
            case .openAI: buffer.writeStaticString("data: [DONE]\n\n")
            case .anthropic: try anthropic.finish(into: &buffer)
            }
            try await writer.write(buffer)
            try await writer.finish(nil)
        } catch {
            if clientGone || error is CancellationError {
                failure = GatewayError.from(CancellationError())
            } else {
                let gatewayError = GatewayError.from(error)
                failure = gatewayError
                buffer.clear()
                switch wire {
                case .openAI:
                    ServerSentEvent.writeData((try? WireJSON.encodeData(OpenAIErrorBody(gatewayError))) ?? Data(), to: &buffer)
                case .anthropic:
                    try? AnthropicStreamEncoder.writeError(gatewayError, into: &buffer)
                }
                // The client may be gone too; the span records the upstream failure either way.
                try? await writer.write(buffer)
                try? await writer.finish(nil)
            }
        }
        if let failure {
            call.outcome.error = failure
            call.outcome.finishReasons = [.error]
        }
        exchange.end(error: failure)
        executor.finish(call, output: captureContent ? output : nil)
    }
}

extension ModelCallExecutor.Call {
    /// Folds a chunk into the outcome (and, for content capture, the assembled output).
    mutating func observe(_ chunk: ChatChunk, into output: inout ChatResponse, assembleOutput: Bool) {
        if outcome.responseID == nil, !chunk.id.isEmpty { outcome.responseID = chunk.id }
        if outcome.responseModel == nil, !chunk.model.isEmpty { outcome.responseModel = chunk.model }
        if let usage = chunk.usage { record(usage: usage) }
        for choice in chunk.choices {
            if let reason = choice.finishReason, !assembleOutput {
                outcome.finishReasons.append(reason)
            }
            let carriesOutput = !(choice.content ?? "").isEmpty || !choice.toolCalls.isEmpty
            if carriesOutput {
                outcome.outputChunks += 1
                if outcome.timeToFirstChunk == nil { outcome.timeToFirstChunk = start.duration(to: .now) }
            }
            // The full answer is assembled only for content capture; otherwise the relay stays copy-free.
            guard assembleOutput else { continue }
            while output.choices.count <= choice.index {
                output.choices.append(.init(index: output.choices.count, message: ChatMessage(role: .assistant), finishReason: nil))
            }
            if let content = choice.content, !content.isEmpty {
                if case .text(let existing)? = output.choices[choice.index].message.content.last {
                    output.choices[choice.index].message.content[output.choices[choice.index].message.content.count - 1] = .text(existing + content)
                } else {
                    output.choices[choice.index].message.content.append(.text(content))
                }
            }
            for delta in choice.toolCalls {
                var calls = output.choices[choice.index].message.toolCalls
                while calls.count <= delta.index { calls.append(ToolCall(id: "", name: "", arguments: "")) }
                if let id = delta.id { calls[delta.index].id = id }
                if let name = delta.name { calls[delta.index].name = name }
                calls[delta.index].arguments += delta.arguments ?? ""
                output.choices[choice.index].message.toolCalls = calls
            }
            if let reason = choice.finishReason {
                output.choices[choice.index].finishReason = reason
                outcome.finishReasons = output.choices.compactMap(\.finishReason)
            }
        }
    }
}
