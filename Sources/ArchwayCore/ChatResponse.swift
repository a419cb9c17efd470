/// Why the model stopped, in the OpenAI vocabulary (the GenAI conventions use the same values).
public enum FinishReason: String, Sendable, Hashable, Codable {
    case stop
    case length
    case toolCalls = "tool_calls"
    case contentFilter = "content_filter"
    /// The call failed part-way; never sent to a client as a clean finish.
    case error
}

/// Token counts of one call.
public struct Usage: Sendable, Hashable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// Input tokens served from the provider's prompt cache.
    public var cacheReadTokens: Int?
    /// Input tokens written to the provider's prompt cache.
    public var cacheCreationTokens: Int?
    public var reasoningTokens: Int?

    public init(
        inputTokens: Int,
        outputTokens: Int,
        cacheReadTokens: Int? = nil,
        cacheCreationTokens: Int? = nil,
        reasoningTokens: Int? = nil
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheCreationTokens = cacheCreationTokens
        self.reasoningTokens = reasoningTokens
    }

    public var totalTokens: Int { inputTokens + outputTokens }
}

/// A complete (non-streamed) chat answer.
public struct ChatResponse: Sendable, Hashable {
    public struct Choice: Sendable, Hashable {
        public var index: Int
        public var message: ChatMessage
        public var finishReason: FinishReason?
        /// Which of the request's stop sequences ended the answer, when the provider says (Anthropic's
        /// `stop_sequence`); the finish reason is then `stop`.
        public var stopSequence: String?

        public init(index: Int, message: ChatMessage, finishReason: FinishReason?, stopSequence: String? = nil) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
            self.stopSequence = stopSequence
        }
    }

    public var id: String
    public var model: String
    /// Unix seconds.
    public var created: Int
    public var choices: [Choice]
    public var usage: Usage?
    public var systemFingerprint: String?

    public init(id: String, model: String, created: Int, choices: [Choice], usage: Usage?, systemFingerprint: String? = nil) {
        self.id = id
        self.model = model
        self.created = created
        self.choices = choices
        self.usage = usage
        self.systemFingerprint = systemFingerprint
    }

    public var finishReasons: [FinishReason] { choices.compactMap(\.finishReason) }
}

/// One increment of a streamed chat answer.
public struct ChatChunk: Sendable, Hashable {
    public struct ToolCallDelta: Sendable, Hashable {
        /// Position of the call in the message's tool calls.
        public var index: Int
        /// Set on the first delta of a call.
        public var id: String?
        public var name: String?
        /// A fragment of the arguments JSON.
        public var arguments: String?

        public init(index: Int, id: String? = nil, name: String? = nil, arguments: String? = nil) {
            self.index = index
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    public struct Choice: Sendable, Hashable {
        public var index: Int
        public var role: ChatMessage.Role?
        public var content: String?
        public var toolCalls: [ToolCallDelta]
        public var finishReason: FinishReason?
        /// As `ChatResponse.Choice.stopSequence`, on the chunk that finishes.
        public var stopSequence: String?

        public init(
            index: Int = 0,
            role: ChatMessage.Role? = nil,
            content: String? = nil,
            toolCalls: [ToolCallDelta] = [],
            finishReason: FinishReason? = nil,
            stopSequence: String? = nil
        ) {
            self.index = index
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
            self.finishReason = finishReason
            self.stopSequence = stopSequence
        }
    }

    public var id: String
    public var model: String
    public var created: Int
    public var choices: [Choice]
    /// Present on the final usage chunk (OpenAI) or the message delta (Anthropic).
    public var usage: Usage?
    public var systemFingerprint: String?

    public init(id: String, model: String, created: Int, choices: [Choice], usage: Usage? = nil, systemFingerprint: String? = nil) {
        self.id = id
        self.model = model
        self.created = created
        self.choices = choices
        self.usage = usage
        self.systemFingerprint = systemFingerprint
    }
}
