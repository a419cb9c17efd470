public import ArchwayCore

/// The Anthropic `message` document, converted to and from the canonical `ChatResponse`.
public struct AnthropicMessagesResponse: Codable, Sendable {
    public var response: ChatResponse

    public init(_ response: ChatResponse) {
        self.response = response
    }

    enum CodingKeys: String, CodingKey {
        case id, type, role, content, model, usage
        case stopReason = "stop_reason"
        case stopSequence = "stop_sequence"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let blocks = try container.decode([JSONValue].self, forKey: .content)
        var message = ChatMessage(role: .assistant)
        for block in blocks {
            switch block["type"]?.stringValue {
            case "text":
                message.content.append(.text(block["text"]?.stringValue ?? ""))
            case "tool_use":
                let arguments = ToolCall.arguments(fromAnthropicInput: block["input"])
                message.toolCalls.append(ToolCall(id: block["id"]?.stringValue ?? "", name: block["name"]?.stringValue ?? "", arguments: arguments))
            default:
                continue
            }
        }
        if message.content.count > 1 {
            message.content = [.text(message.text)]
        }
        let stopReason = try container.decodeIfPresent(String.self, forKey: .stopReason)
        let stopSequence = stopReason == "stop_sequence" ? try container.decodeIfPresent(String.self, forKey: .stopSequence) : nil
        response = ChatResponse(
            id: try container.decode(String.self, forKey: .id),
            model: try container.decodeIfPresent(String.self, forKey: .model) ?? "",
            created: currentUnixSeconds(),
            choices: [.init(index: 0, message: message, finishReason: stopReason.map(FinishReason.init(anthropic:)), stopSequence: stopSequence)],
            usage: try container.decodeIfPresent(AnthropicUsage.self, forKey: .usage)?.usage
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(response.id, forKey: .id)
        try container.encode("message", forKey: .type)
        try container.encode("assistant", forKey: .role)
        try container.encode(response.model, forKey: .model)
        var blocks: [JSONValue] = []
        let choice = response.choices.first
        if let message = choice?.message {
            // No text is no block (`content: []`, as Anthropic answers nothing): an empty text block in a
            // history sent back is one Anthropic refuses.
            let text = message.text
            if !text.isEmpty {
                blocks.append(.object(["type": .string("text"), "text": .string(text)]))
            }
            for call in message.toolCalls {
                let input = call.anthropicInput
                blocks.append(.object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": input]))
            }
        }
        try container.encode(blocks, forKey: .content)
        if let choice, let sequence = choice.stopSequence, choice.finishReason == .stop {
            try container.encode("stop_sequence", forKey: .stopReason)
            try container.encode(sequence, forKey: .stopSequence)
        } else {
            try container.encode(choice?.finishReason.map(\.anthropicStopReason), forKey: .stopReason)
            try container.encodeNil(forKey: .stopSequence)
        }
        try container.encode(AnthropicUsage(response.usage ?? Usage(inputTokens: 0, outputTokens: 0)), forKey: .usage)
    }
}

extension FinishReason {
    public init(anthropic stopReason: String) {
        self = switch stopReason {
        case "max_tokens", "model_context_window_exceeded": .length
        case "tool_use": .toolCalls
        case "refusal": .contentFilter
        default: .stop
        }
    }

    public var anthropicStopReason: String {
        switch self {
        case .stop: "end_turn"
        case .length: "max_tokens"
        case .toolCalls: "tool_use"
        case .contentFilter: "refusal"
        case .error: "end_turn"
        }
    }
}

/// Anthropic's `usage`. Anthropic's `input_tokens` excludes cached tokens; the canonical count includes
/// them (as the GenAI conventions ask), with the cache parts kept separately.
struct AnthropicUsage: Codable {
    var usage: Usage

    init(_ usage: Usage) {
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case cacheRead = "cache_read_input_tokens"
        case cacheCreation = "cache_creation_input_tokens"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let uncached = try container.decodeIfPresent(Int.self, forKey: .inputTokens) ?? 0
        let cacheRead = try container.decodeIfPresent(Int.self, forKey: .cacheRead)
        let cacheCreation = try container.decodeIfPresent(Int.self, forKey: .cacheCreation)
        usage = Usage(
            inputTokens: uncached + (cacheRead ?? 0) + (cacheCreation ?? 0),
            outputTokens: try container.decodeIfPresent(Int.self, forKey: .outputTokens) ?? 0,
            cacheReadTokens: cacheRead,
            cacheCreationTokens: cacheCreation
        )
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let cached = (usage.cacheReadTokens ?? 0) + (usage.cacheCreationTokens ?? 0)
        try container.encode(max(usage.inputTokens - cached, 0), forKey: .inputTokens)
        try container.encode(usage.outputTokens, forKey: .outputTokens)
        try container.encodeIfPresent(usage.cacheReadTokens, forKey: .cacheRead)
        try container.encodeIfPresent(usage.cacheCreationTokens, forKey: .cacheCreation)
    }
}
