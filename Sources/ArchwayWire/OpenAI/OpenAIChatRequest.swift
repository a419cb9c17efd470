public import ArchwayCore

/// The OpenAI `POST /v1/chat/completions` body, decoded straight into the canonical `ChatRequest`
/// (and encoded from it for OpenAI-compatible upstreams), so no intermediate copy of the messages exists.
public struct OpenAIChatRequest: Codable, Sendable {
    public var request: ChatRequest
    /// Encoding only: the cap goes out as `max_completion_tokens` (see `init(_:completionTokens:)`).
    var completionTokens = false

    /// - Parameter completionTokens: name the output cap `max_completion_tokens` whatever the client
    ///   called it (OpenAI's own API, whose reasoning models refuse `max_tokens`).
    public init(_ request: ChatRequest, completionTokens: Bool = false) {
        self.request = request
        self.completionTokens = completionTokens
    }

    static let knownKeys: Set<String> = [
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k", "max_tokens",
        "max_completion_tokens", "stop", "seed", "frequency_penalty", "presence_penalty", "n", "tools",
        "tool_choice", "parallel_tool_calls", "response_format", "user",
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        func key(_ name: String) -> AnyCodingKey { AnyCodingKey(name) }

        let model = try container.decode(String.self, forKey: key("model"))
        if model.isEmpty { throw container.invalid(key("model"), "must not be empty") }
        let messages = try container.decode([OpenAIMessage].self, forKey: key("messages")).map(\.message)
        if messages.isEmpty { throw container.invalid(key("messages"), "must contain at least one message") }
        var request = ChatRequest(model: model, messages: messages)
        request.stream = try container.decodeIfPresent(Bool.self, forKey: key("stream")) ?? false
        if let options = try container.decodeIfPresent([String: JSONValue].self, forKey: key("stream_options")) {
            request.includeUsage = options["include_usage"] == .bool(true)
        }
        request.temperature = try container.decodeIfPresent(Double.self, forKey: key("temperature"))
        if let temperature = request.temperature, !(0...2).contains(temperature) {
            throw container.invalid(key("temperature"), "must be between 0 and 2")
        }
        request.topP = try container.decodeIfPresent(Double.self, forKey: key("top_p"))
        request.topK = try container.decodeIfPresent(Int.self, forKey: key("top_k"))
        if let completion = try container.decodeIfPresent(Int.self, forKey: key("max_completion_tokens")) {
            request.maxTokens = completion
            request.maxTokensIsCompletion = true
        } else {
            request.maxTokens = try container.decodeIfPresent(Int.self, forKey: key("max_tokens"))
        }
        if let maxTokens = request.maxTokens, maxTokens < 1 {
            throw container.invalid(key("max_tokens"), "must be at least 1")
        }
        if let single = try? container.decodeIfPresent(String.self, forKey: key("stop")) {
            request.stop = [single]
        } else {
            request.stop = try container.decodeIfPresent([String].self, forKey: key("stop"))
        }
        request.seed = try container.decodeIfPresent(Int.self, forKey: key("seed"))
        request.frequencyPenalty = try container.decodeIfPresent(Double.self, forKey: key("frequency_penalty"))
        request.presencePenalty = try container.decodeIfPresent(Double.self, forKey: key("presence_penalty"))
        request.choiceCount = try container.decodeIfPresent(Int.self, forKey: key("n"))
        if let count = request.choiceCount, count < 1 { throw container.invalid(key("n"), "must be at least 1") }
        request.tools = try container.decodeIfPresent([OpenAITool].self, forKey: key("tools"))?.map(\.definition)
        if let choice = try container.decodeIfPresent(JSONValue.self, forKey: key("tool_choice")) {
            request.toolChoice = try Self.toolChoice(choice, container: container)
        }
        request.parallelToolCalls = try container.decodeIfPresent(Bool.self, forKey: key("parallel_tool_calls"))
        request.responseFormat = try container.decodeIfPresent(JSONValue.self, forKey: key("response_format"))
        if let format = request.responseFormat {
            guard let type = format["type"]?.stringValue, ["text", "json_object", "json_schema"].contains(type) else {
                throw container.invalid(key("response_format"), "type must be one of text, json_object, json_schema")
            }
        }
        request.user = try container.decodeIfPresent(String.self, forKey: key("user"))
        for codingKey in container.allKeys where !Self.knownKeys.contains(codingKey.stringValue) {
            request.extra[codingKey.stringValue] = try container.decode(JSONValue.self, forKey: codingKey)
        }
        self.request = request
    }

    private static func toolChoice(_ value: JSONValue, container: KeyedDecodingContainer<AnyCodingKey>) throws -> ToolChoice {
        switch value {
        case .string("auto"): return .auto
        case .string("none"): return .none
        case .string("required"): return .required
        case .object(let object):
            if let name = object["function"]?["name"]?.stringValue { return .function(name) }
            // Chat Completions' other choices (a set of allowed tools, a named custom tool): as they came.
            if object["type"]?.stringValue == "allowed_tools" || object["custom"]?["name"]?.stringValue != nil { return .openAIOnly(value) }
        default: break
        }
        throw container.invalid(AnyCodingKey("tool_choice"), "must be auto, none, required, {\"type\":\"function\",\"function\":{\"name\":…}}, allowed_tools or a custom tool")
    }

    /// The field clients send for `gen_ai.conversation.id`, consumed by the gateway and never forwarded.
    public static let conversationIDField = "conversation_id"

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        func key(_ name: String) -> AnyCodingKey { AnyCodingKey(name) }
        // Pass-through fields first, so a modelled field always wins over an unknown one with the same name.
        // `conversation_id` is the gateway's own (`gen_ai.conversation.id`): OpenAI refuses arguments it
        // does not know.
        for (name, value) in request.extra where name != Self.conversationIDField {
            try container.encode(value, forKey: key(name))
        }
        try container.encode(request.model, forKey: key("model"))
        try container.encode(request.messages.map(OpenAIMessage.init), forKey: key("messages"))
        if request.stream {
            try container.encode(true, forKey: key("stream"))
            // Always ask for usage: telemetry and cost need it even when the client did not.
            try container.encode(["include_usage": true], forKey: key("stream_options"))
        }
        try container.encodeIfPresent(request.temperature, forKey: key("temperature"))
        try container.encodeIfPresent(request.topP, forKey: key("top_p"))
        try container.encodeIfPresent(request.maxTokens, forKey: key(completionTokens || request.maxTokensIsCompletion ? "max_completion_tokens" : "max_tokens"))
        try container.encodeIfPresent(request.stop, forKey: key("stop"))
        try container.encodeIfPresent(request.seed, forKey: key("seed"))
        try container.encodeIfPresent(request.frequencyPenalty, forKey: key("frequency_penalty"))
        try container.encodeIfPresent(request.presencePenalty, forKey: key("presence_penalty"))
        try container.encodeIfPresent(request.choiceCount, forKey: key("n"))
        if let tools = request.tools {
            try container.encode(tools.map(OpenAITool.init), forKey: key("tools"))
        }
        if let choice = request.toolChoice {
            let value: JSONValue = switch choice {
            case .auto: .string("auto")
            case .none: .string("none")
            case .required: .string("required")
            case .function(let name): .object(["type": .string("function"), "function": .object(["name": .string(name)])])
            case .openAIOnly(let choice): choice
            }
            try container.encode(value, forKey: key("tool_choice"))
        }
        try container.encodeIfPresent(request.parallelToolCalls, forKey: key("parallel_tool_calls"))
        try container.encodeIfPresent(request.responseFormat, forKey: key("response_format"))
        try container.encodeIfPresent(request.user, forKey: key("user"))
    }
}

/// A message on the OpenAI wire.
struct OpenAIMessage: Codable {
    var message: ChatMessage

    init(_ message: ChatMessage) {
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let roleName = try container.decode(String.self, forKey: .role)
        guard let role = ChatMessage.Role(rawValue: roleName) else {
            throw container.invalid(.role, "must be one of system, developer, user, assistant, tool")
        }
        var message = ChatMessage(role: role)
        if container.contains(.content), try !container.decodeNil(forKey: .content) {
            do {
                message.content = [.text(try container.decode(String.self, forKey: .content))]
                message.contentIsText = true
            } catch DecodingError.typeMismatch {
                // Not a string: an array of parts, whose own errors name the part; anything else is neither.
                do {
                    message.content = try container.decode([OpenAIContentPart].self, forKey: .content).map(\.part)
                    message.contentIsText = false
                } catch DecodingError.typeMismatch(_, let context) where context.codingPath.count == container.codingPath.count + 1 {
                    throw container.invalid(.content, "expected a string or an array of content parts")
                }
            }
        }
        message.name = try container.decodeIfPresent(String.self, forKey: .name)
        message.toolCalls = try container.decodeIfPresent([OpenAIToolCall].self, forKey: .toolCalls)?.map(\.call) ?? []
        message.toolCallID = try container.decodeIfPresent(String.self, forKey: .toolCallID)
        if role == .tool, message.toolCallID == nil {
            throw DecodingError.keyNotFound(CodingKeys.toolCallID, .init(codingPath: container.codingPath, debugDescription: "tool messages need tool_call_id"))
        }
        if role != .assistant, message.content.isEmpty, (try? container.decodeNil(forKey: .content)) != false {
            throw DecodingError.keyNotFound(CodingKeys.content, .init(codingPath: container.codingPath, debugDescription: "content is required"))
        }
        self.message = message
    }

    /// What an Anthropic client's failed tool result (`is_error`) says first on the OpenAI wire.
    static let toolErrorPrefix = "Error: "

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(message.role.rawValue, forKey: .role)
        if message.isToolError {
            // OpenAI's tool messages have no error flag: the failure is said in the text the model reads.
            try container.encode(Self.toolErrorPrefix + message.text, forKey: .content)
        } else if message.content.isEmpty {
            try container.encodeNil(forKey: .content)
        } else if message.contentIsText || message.content.allSatisfy({ if case .text = $0 { true } else { false } }) && message.content.count == 1 {
            try container.encode(message.text, forKey: .content)
        } else {
            try container.encode(message.content.map(OpenAIContentPart.init), forKey: .content)
        }
        try container.encodeIfPresent(message.name, forKey: .name)
        if !message.toolCalls.isEmpty {
            try container.encode(message.toolCalls.map(OpenAIToolCall.init), forKey: .toolCalls)
        }
        try container.encodeIfPresent(message.toolCallID, forKey: .toolCallID)
    }
}

struct OpenAIContentPart: Codable {
    var part: ContentPart

    init(_ part: ContentPart) {
        self.part = part
    }

    init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        switch value["type"]?.stringValue {
        case "text":
            guard let text = value["text"]?.stringValue else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a text part needs 'text'"))
            }
            part = .text(text)
        case "image_url":
            guard let url = value["image_url"]?["url"]?.stringValue ?? value["image_url"]?.stringValue else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "an image_url part needs 'image_url.url'"))
            }
            part = .imageURL(url: url, detail: value["image_url"]?["detail"]?.stringValue)
        case .some:
            part = .other(value)
        case nil:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a content part needs 'type'"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        let value: JSONValue = switch part {
        case .text(let text): .object(["type": .string("text"), "text": .string(text)])
        case .imageURL(let url, let detail):
            .object([
                "type": .string("image_url"),
                "image_url": .object(detail.map { ["url": .string(url), "detail": .string($0)] } ?? ["url": .string(url)]),
            ])
        case .other(let value): value
        }
        try value.encode(to: encoder)
    }
}

struct OpenAIToolCall: Codable {
    var call: ToolCall

    init(_ call: ToolCall) {
        self.call = call
    }

    struct Function: Codable {
        var name: String
        var arguments: String
    }

    struct Custom: Codable {
        var name: String
        var input: String
    }

    enum CodingKeys: String, CodingKey {
        case id, type, function, custom
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let id = try container.decode(String.self, forKey: .id)
        if try container.decodeIfPresent(String.self, forKey: .type) == "custom" {
            let custom = try container.decode(Custom.self, forKey: .custom)
            call = ToolCall(id: id, name: custom.name, arguments: custom.input)
            call.isCustom = true
            return
        }
        let function = try container.decode(Function.self, forKey: .function)
        call = ToolCall(id: id, name: function.name, arguments: function.arguments)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(call.id, forKey: .id)
        if call.isCustom {
            try container.encode("custom", forKey: .type)
            try container.encode(Custom(name: call.name, input: call.arguments), forKey: .custom)
            return
        }
        try container.encode("function", forKey: .type)
        try container.encode(Function(name: call.name, arguments: call.arguments), forKey: .function)
    }
}

struct OpenAITool: Codable {
    var definition: ToolDefinition

    init(_ definition: ToolDefinition) {
        self.definition = definition
    }

    struct Function: Codable {
        var name: String
        var description: String?
        var parameters: JSONValue?
        var strict: Bool?
    }

    enum CodingKeys: String, CodingKey {
        case type, function
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        if type == "custom" {
            // A custom tool (free-form input, an optional grammar): as it came, for OpenAI-wire providers.
            let tool = try JSONValue(from: decoder)
            guard let name = tool["custom"]?["name"]?.stringValue else { throw container.invalid(.type, "a custom tool needs custom.name") }
            definition = ToolDefinition(name: name, builtIn: ToolDefinition.BuiltInTool(wire: .openAI, definition: tool))
            return
        }
        guard type == "function" else { throw container.invalid(.type, "must be function or custom") }
        let function = try container.decode(Function.self, forKey: .function)
        definition = ToolDefinition(name: function.name, description: function.description, parameters: function.parameters, strict: function.strict)
    }

    func encode(to encoder: any Encoder) throws {
        if let builtIn = definition.builtIn, builtIn.wire == .openAI {
            try builtIn.definition.encode(to: encoder)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("function", forKey: .type)
        try container.encode(
            Function(name: definition.name, description: definition.description, parameters: definition.parameters, strict: definition.strict),
            forKey: .function
        )
    }
}
