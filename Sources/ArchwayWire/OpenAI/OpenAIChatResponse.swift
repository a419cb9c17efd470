public import ArchwayCore

/// The OpenAI chat completion document, read from upstreams and written to clients.
public struct OpenAIChatResponse: Codable, Sendable {
    public var response: ChatResponse

    public init(_ response: ChatResponse) {
        self.response = response
    }

    /// The whole answer of a relayed response, whose canonical value carries only what the relay reads
    /// (ids, usage, finish reasons): for the few consumers that need its content (consistency samples).
    public static func content(of answer: Relayable<ChatResponse>) -> ChatResponse? {
        guard let wire = answer.wire else { return answer.value }
        return try? WireJSON.decoder.decode(OpenAIChatResponse.self, from: wire.bytes).response
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }

    struct Choice: Codable {
        var index: Int
        var message: OpenAIMessage
        var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
            case logprobs
        }

        init(_ choice: ChatResponse.Choice) {
            index = choice.index
            message = OpenAIMessage(choice.message)
            finishReason = choice.finishReason?.rawValue
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decodeIfPresent(Int.self, forKey: .index) ?? 0
            message = try container.decode(OpenAIMessage.self, forKey: .message)
            finishReason = try container.decodeIfPresent(String.self, forKey: .finishReason)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encodeNil(forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let choices = try container.decode([Choice].self, forKey: .choices)
        response = ChatResponse(
            id: try container.decodeIfPresent(String.self, forKey: .id) ?? "",
            model: try container.decodeIfPresent(String.self, forKey: .model) ?? "",
            created: try container.decodeIfPresent(Int.self, forKey: .created) ?? 0,
            choices: choices.map {
                ChatResponse.Choice(index: $0.index, message: $0.message.message, finishReason: $0.finishReason.map(FinishReason.init(openAI:)))
            },
            usage: try container.decodeIfPresent(OpenAIUsage.self, forKey: .usage)?.usage,
            systemFingerprint: try container.decodeIfPresent(String.self, forKey: .systemFingerprint)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(response.id, forKey: .id)
        try container.encode("chat.completion", forKey: .object)
        try container.encode(response.created, forKey: .created)
        try container.encode(response.model, forKey: .model)
        try container.encode(response.choices.map(Choice.init), forKey: .choices)
        try container.encodeIfPresent(response.usage.map(OpenAIUsage.init), forKey: .usage)
        try container.encodeIfPresent(response.systemFingerprint, forKey: .systemFingerprint)
    }
}

extension FinishReason {
    /// Maps an OpenAI-compatible finish reason; unknown values (some compatible APIs invent their own) become `stop`.
    public init(openAI value: String) {
        self = FinishReason(rawValue: value) ?? (value == "function_call" ? .toolCalls : .stop)
    }
}

/// The OpenAI `usage` object.
struct OpenAIUsage: Codable {
    var usage: Usage

    init(_ usage: Usage) {
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptDetails = "prompt_tokens_details"
        case completionDetails = "completion_tokens_details"
    }

    struct PromptDetails: Codable {
        var cachedTokens: Int?
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
    }

    struct CompletionDetails: Codable {
        var reasoningTokens: Int?
        enum CodingKeys: String, CodingKey { case reasoningTokens = "reasoning_tokens" }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        usage = Usage(
            inputTokens: try container.decodeIfPresent(Int.self, forKey: .promptTokens) ?? 0,
            outputTokens: try container.decodeIfPresent(Int.self, forKey: .completionTokens) ?? 0,
            cacheReadTokens: try container.decodeIfPresent(PromptDetails.self, forKey: .promptDetails)?.cachedTokens,
            reasoningTokens: try container.decodeIfPresent(CompletionDetails.self, forKey: .completionDetails)?.reasoningTokens
        )
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(usage.inputTokens, forKey: .promptTokens)
        try container.encode(usage.outputTokens, forKey: .completionTokens)
        try container.encode(usage.totalTokens, forKey: .totalTokens)
        if let cached = usage.cacheReadTokens {
            try container.encode(PromptDetails(cachedTokens: cached), forKey: .promptDetails)
        }
        if let reasoning = usage.reasoningTokens {
            try container.encode(CompletionDetails(reasoningTokens: reasoning), forKey: .completionDetails)
        }
    }
}
