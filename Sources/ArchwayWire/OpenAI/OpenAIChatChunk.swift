public import ArchwayCore

/// One `chat.completion.chunk` of an OpenAI stream.
public struct OpenAIChatChunk: Codable, Sendable {
    public var chunk: ChatChunk

    public init(_ chunk: ChatChunk) {
        self.chunk = chunk
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }

    struct Choice: Codable {
        var choice: ChatChunk.Choice

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }

        enum DeltaKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
        }

        struct ToolCallDelta: Codable {
            var index: Int
            var id: String?
            var type: String?
            var function: Function?

            struct Function: Codable {
                var name: String?
                var arguments: String?
            }
        }

        init(_ choice: ChatChunk.Choice) {
            self.choice = choice
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            var choice = ChatChunk.Choice(index: try container.decodeIfPresent(Int.self, forKey: .index) ?? 0)
            choice.finishReason = try container.decodeIfPresent(String.self, forKey: .finishReason).map(FinishReason.init(openAI:))
            if container.contains(.delta), try !container.decodeNil(forKey: .delta) {
                let delta = try container.nestedContainer(keyedBy: DeltaKeys.self, forKey: .delta)
                choice.role = try delta.decodeIfPresent(String.self, forKey: .role).flatMap(ChatMessage.Role.init(rawValue:))
                choice.content = try delta.decodeIfPresent(String.self, forKey: .content)
                choice.toolCalls = try delta.decodeIfPresent([ToolCallDelta].self, forKey: .toolCalls)?.map {
                    ChatChunk.ToolCallDelta(index: $0.index, id: $0.id, name: $0.function?.name, arguments: $0.function?.arguments)
                } ?? []
            }
            self.choice = choice
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(choice.index, forKey: .index)
            var delta = container.nestedContainer(keyedBy: DeltaKeys.self, forKey: .delta)
            try delta.encodeIfPresent(choice.role?.rawValue, forKey: .role)
            try delta.encodeIfPresent(choice.content, forKey: .content)
            if !choice.toolCalls.isEmpty {
                try delta.encode(
                    choice.toolCalls.map {
                        ToolCallDelta(
                            index: $0.index,
                            id: $0.id,
                            type: $0.id == nil ? nil : "function",
                            function: .init(name: $0.name, arguments: $0.arguments)
                        )
                    },
                    forKey: .toolCalls
                )
            }
            try container.encode(choice.finishReason?.rawValue, forKey: .finishReason)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        chunk = ChatChunk(
            id: try container.decodeIfPresent(String.self, forKey: .id) ?? "",
            model: try container.decodeIfPresent(String.self, forKey: .model) ?? "",
            created: try container.decodeIfPresent(Int.self, forKey: .created) ?? 0,
            choices: try container.decodeIfPresent([Choice].self, forKey: .choices)?.map(\.choice) ?? [],
            usage: try container.decodeIfPresent(OpenAIUsage.self, forKey: .usage)?.usage,
            systemFingerprint: try container.decodeIfPresent(String.self, forKey: .systemFingerprint)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(chunk.id, forKey: .id)
        try container.encode("chat.completion.chunk", forKey: .object)
        try container.encode(chunk.created, forKey: .created)
        try container.encode(chunk.model, forKey: .model)
        try container.encode(chunk.choices.map(Choice.init), forKey: .choices)
        if let usage = chunk.usage {
            try container.encode(OpenAIUsage(usage), forKey: .usage)
        }
        try container.encodeIfPresent(chunk.systemFingerprint, forKey: .systemFingerprint)
    }
}
