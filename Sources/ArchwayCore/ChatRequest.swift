/// A chat completion request in Archway's canonical vocabulary, whatever wire it arrived on.
public struct ChatRequest: Sendable, Hashable {
    /// The model name as the client sent it; the router replaces it with the upstream id per attempt.
    public var model: String
    public var messages: [ChatMessage]
    public var stream: Bool
    /// `stream_options.include_usage`: the client wants a final chunk with usage.
    public var includeUsage: Bool
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var maxTokens: Int?
    /// The client named its cap `max_completion_tokens` (OpenAI's name now, which its reasoning models
    /// require, refusing `max_tokens`): an OpenAI-wire provider gets it under that name again.
    public var maxTokensIsCompletion = false
    public var stop: [String]?
    public var seed: Int?
    public var frequencyPenalty: Double?
    public var presencePenalty: Double?
    /// Number of choices (`n`); nil means one.
    public var choiceCount: Int?
    public var tools: [ToolDefinition]?
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    /// `response_format` as sent (`{"type":"json_object"}`, `{"type":"json_schema",…}`).
    public var responseFormat: JSONValue?
    /// A caller-supplied end-user id.
    public var user: String?
    /// OpenAI request fields Archway does not model, passed through to OpenAI-compatible upstreams.
    public var extra: [String: JSONValue]

    public init(
        model: String,
        messages: [ChatMessage],
        stream: Bool = false,
        includeUsage: Bool = false,
        temperature: Double? = nil,
        topP: Double? = nil,
        topK: Int? = nil,
        maxTokens: Int? = nil,
        stop: [String]? = nil,
        seed: Int? = nil,
        frequencyPenalty: Double? = nil,
        presencePenalty: Double? = nil,
        choiceCount: Int? = nil,
        tools: [ToolDefinition]? = nil,
        toolChoice: ToolChoice? = nil,
        parallelToolCalls: Bool? = nil,
        responseFormat: JSONValue? = nil,
        user: String? = nil,
        extra: [String: JSONValue] = [:]
    ) {
        self.model = model
        self.messages = messages
        self.stream = stream
        self.includeUsage = includeUsage
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxTokens = maxTokens
        self.stop = stop
        self.seed = seed
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.choiceCount = choiceCount
        self.tools = tools
        self.toolChoice = toolChoice
        self.parallelToolCalls = parallelToolCalls
        self.responseFormat = responseFormat
        self.user = user
        self.extra = extra
    }

    /// The kind of output asked for, as the GenAI conventions name it (`text`, `json`).
    public var outputType: String {
        switch responseFormat?["type"]?.stringValue {
        case "json_object", "json_schema": "json"
        default: "text"
        }
    }
}
