public import ArchwayCore
public import NIOCore

/// Turns canonical chunks into Anthropic stream events (`message_start`, `content_block_*`,
/// `message_delta`, `message_stop`). A value-type state machine: feed it chunks, it writes events.
public struct AnthropicStreamEncoder: Sendable {
    private enum Block: Equatable {
        case text
        case tool(index: Int)
    }

    /// The model name the client asked for, echoed in `message_start`.
    private let model: String
    private var started = false
    private var currentBlock: Block?
    private var blockIndex = -1
    private var stopReason: FinishReason?
    private var stopSequence: String?
    private var usage: Usage?
    /// Tool calls that started while another call's block was open, in the order they started.
    private var held: [HeldCall] = []

    private struct HeldCall: Sendable {
        var index: Int
        var id: String?
        var name: String?
        var arguments: String
    }

    public init(model: String) {
        self.model = model
    }

    /// Writes the events for one chunk into `buffer`. Events are written as bytes, not built as values
    /// and encoded: a translated stream writes one or two per token.
    public mutating func encode(_ chunk: ChatChunk, into buffer: inout ByteBuffer) throws {
        if !started {
            started = true
            Self.startEvent("message_start", into: &buffer)
            buffer.writeStaticString(#"{"type":"message_start","message":{"id":"#)
            // Anthropic's message ids start `msg_`, as the gateway's non-streamed answers' do.
            buffer.writeJSONString(chunk.id.hasPrefix("msg_") ? chunk.id : "msg_" + chunk.id)
            buffer.writeStaticString(#","type":"message","role":"assistant","model":"#)
            buffer.writeJSONString(model)
            buffer.writeStaticString(#","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":"#)
            buffer.writeJSONInteger(chunk.usage?.inputTokens ?? 0)
            buffer.writeStaticString(#","output_tokens":0}}}"#)
            Self.endEvent(into: &buffer)
        }
        if let usage = chunk.usage { self.usage = usage }
        guard let choice = chunk.choices.first(where: { $0.index == 0 }) else { return }
        if let content = choice.content, !content.isEmpty {
            if currentBlock != .text {
                open(.text, into: &buffer) { buffer in buffer.writeStaticString(#"{"type":"text","text":""}"#) }
            }
            delta(into: &buffer) { buffer in
                buffer.writeStaticString(#"{"type":"text_delta","text":"#)
                buffer.writeJSONString(content)
                buffer.writeStaticString("}")
            }
        }
        for call in choice.toolCalls {
            if currentBlock == .tool(index: call.index) {
                writeArguments(call.arguments, into: &buffer)
            } else if case .tool = currentBlock {
                // The OpenAI wire may interleave parallel calls' deltas by index; Anthropic's blocks come
                // one after another. A call that starts while another is open is held, whole, until the
                // open one has ended.
                hold(call)
            } else if held.contains(where: { $0.index == call.index }) {
                hold(call)
            } else {
                openTool(index: call.index, id: call.id, name: call.name, into: &buffer)
                writeArguments(call.arguments, into: &buffer)
            }
        }
        if let reason = choice.finishReason {
            stopReason = reason
            stopSequence = choice.stopSequence
        }
    }

    /// Writes the closing events after the upstream finished cleanly.
    public mutating func finish(into buffer: inout ByteBuffer) throws {
        if !started {
            try encode(ChatChunk(id: "msg_empty", model: model, created: 0, choices: []), into: &buffer)
        }
        closeBlock(into: &buffer)
        for call in held {
            openTool(index: call.index, id: call.id, name: call.name, into: &buffer)
            writeArguments(call.arguments, into: &buffer)
            closeBlock(into: &buffer)
        }
        held = []
        Self.startEvent("message_delta", into: &buffer)
        buffer.writeStaticString(#"{"type":"message_delta","delta":{"stop_reason":"#)
        if let stopSequence, stopReason == .stop {
            buffer.writeStaticString(#""stop_sequence","stop_sequence":"#)
            buffer.writeJSONString(stopSequence)
            buffer.writeStaticString(#"},"usage":{"output_tokens":"#)
        } else {
            buffer.writeJSONString((stopReason ?? .stop).anthropicStopReason)
            buffer.writeStaticString(#","stop_sequence":null},"usage":{"output_tokens":"#)
        }
        buffer.writeJSONInteger(usage?.outputTokens ?? 0)
        if let usage {
            // Anthropic's usage: `input_tokens` without the cached ones, which have fields of their own
            // (the canonical count includes them), as the non-streamed answer writes it.
            let cacheRead = usage.cacheReadTokens ?? 0
            let cacheWrite = usage.cacheCreationTokens ?? 0
            buffer.writeStaticString(#","input_tokens":"#)
            buffer.writeJSONInteger(max(usage.inputTokens - cacheRead - cacheWrite, 0))
            if let read = usage.cacheReadTokens {
                buffer.writeStaticString(#","cache_read_input_tokens":"#)
                buffer.writeJSONInteger(read)
            }
            if let write = usage.cacheCreationTokens {
                buffer.writeStaticString(#","cache_creation_input_tokens":"#)
                buffer.writeJSONInteger(write)
            }
        }
        buffer.writeStaticString("}}")
        Self.endEvent(into: &buffer)
        Self.startEvent("message_stop", into: &buffer)
        buffer.writeStaticString(#"{"type":"message_stop"}"#)
        Self.endEvent(into: &buffer)
    }

    /// Writes the `error` event that makes an Anthropic SDK raise instead of finishing cleanly.
    public static func writeError(_ error: GatewayError, into buffer: inout ByteBuffer) throws {
        let body = OpenAIErrorBody(error, anthropicEnvelope: true)
        ServerSentEvent.writeData(try WireJSON.encodeData(body), event: "error", to: &buffer)
    }

    private mutating func openTool(index: Int, id: String?, name: String?, into buffer: inout ByteBuffer) {
        open(.tool(index: index), into: &buffer) { buffer in
            buffer.writeStaticString(#"{"type":"tool_use","id":"#)
            buffer.writeJSONString(id ?? "toolu_\(index)")
            buffer.writeStaticString(#","name":"#)
            buffer.writeJSONString(name ?? "")
            buffer.writeStaticString(#","input":{}}"#)
        }
    }

    private func writeArguments(_ arguments: String?, into buffer: inout ByteBuffer) {
        guard let arguments, !arguments.isEmpty else { return }
        delta(into: &buffer) { buffer in
            buffer.writeStaticString(#"{"type":"input_json_delta","partial_json":"#)
            buffer.writeJSONString(arguments)
            buffer.writeStaticString("}")
        }
    }

    private mutating func hold(_ call: ChatChunk.ToolCallDelta) {
        if let position = held.firstIndex(where: { $0.index == call.index }) {
            held[position].id = held[position].id ?? call.id
            held[position].name = held[position].name ?? call.name
            held[position].arguments += call.arguments ?? ""
        } else {
            held.append(HeldCall(index: call.index, id: call.id, name: call.name, arguments: call.arguments ?? ""))
        }
    }

    private mutating func open(_ block: Block, into buffer: inout ByteBuffer, contentBlock: (inout ByteBuffer) -> Void) {
        closeBlock(into: &buffer)
        blockIndex += 1
        currentBlock = block
        Self.startEvent("content_block_start", into: &buffer)
        buffer.writeStaticString(#"{"type":"content_block_start","index":"#)
        buffer.writeJSONInteger(blockIndex)
        buffer.writeStaticString(#","content_block":"#)
        contentBlock(&buffer)
        buffer.writeStaticString("}")
        Self.endEvent(into: &buffer)
    }

    private func delta(into buffer: inout ByteBuffer, _ delta: (inout ByteBuffer) -> Void) {
        Self.startEvent("content_block_delta", into: &buffer)
        buffer.writeStaticString(#"{"type":"content_block_delta","index":"#)
        buffer.writeJSONInteger(blockIndex)
        buffer.writeStaticString(#","delta":"#)
        delta(&buffer)
        buffer.writeStaticString("}")
        Self.endEvent(into: &buffer)
    }

    private mutating func closeBlock(into buffer: inout ByteBuffer) {
        guard currentBlock != nil else { return }
        currentBlock = nil
        Self.startEvent("content_block_stop", into: &buffer)
        buffer.writeStaticString(#"{"type":"content_block_stop","index":"#)
        buffer.writeJSONInteger(blockIndex)
        buffer.writeStaticString("}")
        Self.endEvent(into: &buffer)
    }

    /// `event: NAME` and the start of the `data:` line.
    private static func startEvent(_ name: StaticString, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("event: ")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\ndata: ")
    }

    private static func endEvent(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\n\n")
    }
}
