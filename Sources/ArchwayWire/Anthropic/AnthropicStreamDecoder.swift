public import ArchwayCore

/// Turns Anthropic stream events into canonical chunks. A value-type state machine: feed it each
/// event, it returns the chunk to forward (if any) and remembers what later events refer back to.
public struct AnthropicStreamDecoder: Sendable {
    public enum Action: Sendable {
        case chunk(ChatChunk)
        case skip
        /// `message_stop`: the stream completed.
        case finished
    }

    private var id = ""
    private var model = ""
    private var usage = Usage(inputTokens: 0, outputTokens: 0)
    private var toolIndexByBlock: [Int: Int] = [:]
    private var created = 0

    public init() {}

    /// The provider's failure report inside a stream (`event: error`).
    public struct StreamError: Error, Sendable {
        public var type: String
        public var message: String
    }

    public mutating func decode(_ event: ServerSentEvent) throws -> Action {
        let value = try WireJSON.decode(JSONValue.self, from: event.data)
        let type = value["type"]?.stringValue ?? event.event ?? ""
        switch type {
        case "message_start":
            let message = value["message"]
            id = message?["id"]?.stringValue ?? ""
            model = message?["model"]?.stringValue ?? ""
            created = currentUnixSeconds()
            if let usageValue = message?["usage"] {
                let decoded = try WireJSON.decoder.decode(AnthropicUsage.self, from: WireJSON.encodeData(usageValue)).usage
                usage.inputTokens = decoded.inputTokens
                usage.cacheReadTokens = decoded.cacheReadTokens
                usage.cacheCreationTokens = decoded.cacheCreationTokens
                usage.outputTokens = decoded.outputTokens
            }
            return .chunk(chunk([ChatChunk.Choice(role: .assistant, content: "")]))
        case "content_block_start":
            let block = value["content_block"]
            let blockIndex = value.intValue(forKey: "index") ?? 0
            switch block?["type"]?.stringValue {
            case "tool_use":
                let toolIndex = toolIndexByBlock.count
                toolIndexByBlock[blockIndex] = toolIndex
                let delta = ChatChunk.ToolCallDelta(index: toolIndex, id: block?["id"]?.stringValue, name: block?["name"]?.stringValue, arguments: "")
                return .chunk(chunk([ChatChunk.Choice(toolCalls: [delta])]))
            case "text":
                if let text = block?["text"]?.stringValue, !text.isEmpty {
                    return .chunk(chunk([ChatChunk.Choice(content: text)]))
                }
                return .skip
            default:
                return .skip
            }
        case "content_block_delta":
            let delta = value["delta"]
            let blockIndex = value.intValue(forKey: "index") ?? 0
            switch delta?["type"]?.stringValue {
            case "text_delta":
                return .chunk(chunk([ChatChunk.Choice(content: delta?["text"]?.stringValue ?? "")]))
            case "input_json_delta":
                guard let toolIndex = toolIndexByBlock[blockIndex] else { return .skip }
                let call = ChatChunk.ToolCallDelta(index: toolIndex, arguments: delta?["partial_json"]?.stringValue ?? "")
                return .chunk(chunk([ChatChunk.Choice(toolCalls: [call])]))
            default:
                return .skip
            }
        case "message_delta":
            if case .number(let output)? = value["usage"]?["output_tokens"] { usage.outputTokens = Int(output) }
            if case .number(let input)? = value["usage"]?["input_tokens"] {
                usage.inputTokens = Int(input) + (usage.cacheReadTokens ?? 0) + (usage.cacheCreationTokens ?? 0)
            }
            if let reason = value["delta"]?["stop_reason"]?.stringValue {
                return .chunk(chunk([ChatChunk.Choice(finishReason: FinishReason(anthropic: reason))]))
            }
            return .skip
        case "message_stop":
            return .finished
        case "error":
            throw StreamError(type: value["error"]?["type"]?.stringValue ?? "api_error", message: value["error"]?["message"]?.stringValue ?? "stream error")
        default:
            return .skip
        }
    }

    /// The usage chunk to send after `message_stop`, in the OpenAI convention (no choices).
    public var usageChunk: ChatChunk {
        ChatChunk(id: id, model: model, created: created, choices: [], usage: usage)
    }

    private func chunk(_ choices: [ChatChunk.Choice]) -> ChatChunk {
        ChatChunk(id: id, model: model, created: created, choices: choices)
    }
}
