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
    private var usage: Usage?

    public init(model: String) {
        self.model = model
    }

    /// Writes the events for one chunk into `buffer`.
    public mutating func encode(_ chunk: ChatChunk, into buffer: inout ByteBuffer) throws {
        if !started {
            started = true
            let start: JSONValue = .object([
                "type": .string("message_start"),
                "message": .object([
                    "id": .string(chunk.id),
                    "type": .string("message"),
                    "role": .string("assistant"),
                    "model": .string(model),
                    "content": .array([]),
                    "stop_reason": .null,
                    "stop_sequence": .null,
                    "usage": .object(["input_tokens": .number(Double(chunk.usage?.inputTokens ?? 0)), "output_tokens": .number(0)]),
                ]),
            ])
            try write(event: "message_start", start, into: &buffer)
        }
        if let usage = chunk.usage { self.usage = usage }
        guard let choice = chunk.choices.first(where: { $0.index == 0 }) else { return }
        if let content = choice.content, !content.isEmpty {
            if currentBlock != .text {
                try open(.text, start: .object(["type": .string("text"), "text": .string("")]), into: &buffer)
            }
            try write(event: "content_block_delta", .object([
                "type": .string("content_block_delta"),
                "index": .number(Double(blockIndex)),
                "delta": .object(["type": .string("text_delta"), "text": .string(content)]),
            ]), into: &buffer)
        }
        for call in choice.toolCalls {
            if currentBlock != .tool(index: call.index) {
                try open(.tool(index: call.index), start: .object([
                    "type": .string("tool_use"),
                    "id": .string(call.id ?? "toolu_\(call.index)"),
                    "name": .string(call.name ?? ""),
                    "input": .object([:]),
                ]), into: &buffer)
            }
            if let arguments = call.arguments, !arguments.isEmpty {
                try write(event: "content_block_delta", .object([
                    "type": .string("content_block_delta"),
                    "index": .number(Double(blockIndex)),
                    "delta": .object(["type": .string("input_json_delta"), "partial_json": .string(arguments)]),
                ]), into: &buffer)
            }
        }
        if let reason = choice.finishReason { stopReason = reason }
    }

    /// Writes the closing events after the upstream finished cleanly.
    public mutating func finish(into buffer: inout ByteBuffer) throws {
        if !started {
            try encode(ChatChunk(id: "msg_empty", model: model, created: 0, choices: []), into: &buffer)
        }
        try closeBlock(into: &buffer)
        var usageObject: [String: JSONValue] = ["output_tokens": .number(Double(usage?.outputTokens ?? 0))]
        if let usage { usageObject["input_tokens"] = .number(Double(usage.inputTokens)) }
        try write(event: "message_delta", .object([
            "type": .string("message_delta"),
            "delta": .object(["stop_reason": .string((stopReason ?? .stop).anthropicStopReason), "stop_sequence": .null]),
            "usage": .object(usageObject),
        ]), into: &buffer)
        try write(event: "message_stop", .object(["type": .string("message_stop")]), into: &buffer)
    }

    /// Writes the `error` event that makes an Anthropic SDK raise instead of finishing cleanly.
    public static func writeError(_ error: GatewayError, into buffer: inout ByteBuffer) throws {
        let body = OpenAIErrorBody(error, anthropicEnvelope: true)
        ServerSentEvent.writeData(try WireJSON.encodeData(body), event: "error", to: &buffer)
    }

    private mutating func open(_ block: Block, start: JSONValue, into buffer: inout ByteBuffer) throws {
        try closeBlock(into: &buffer)
        blockIndex += 1
        currentBlock = block
        try write(event: "content_block_start", .object([
            "type": .string("content_block_start"),
            "index": .number(Double(blockIndex)),
            "content_block": start,
        ]), into: &buffer)
    }

    private mutating func closeBlock(into buffer: inout ByteBuffer) throws {
        guard currentBlock != nil else { return }
        currentBlock = nil
        try write(event: "content_block_stop", .object(["type": .string("content_block_stop"), "index": .number(Double(blockIndex))]), into: &buffer)
    }

    private func write(event: String, _ value: JSONValue, into buffer: inout ByteBuffer) throws {
        ServerSentEvent.writeData(try WireJSON.encodeData(value), event: event, to: &buffer)
    }
}
