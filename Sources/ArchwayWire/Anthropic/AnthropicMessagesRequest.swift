public import ArchwayCore

/// The Anthropic `POST /v1/messages` body, converted to and from the canonical `ChatRequest`.
///
/// Anthropic keeps the system prompt out of the messages, puts tool calls and results in content blocks
/// and requires `max_tokens`; the conversions move those pieces between the two shapes.
public struct AnthropicMessagesRequest: Codable, Sendable {
    public var request: ChatRequest

    /// `max_tokens` sent upstream when the client gave none (Anthropic requires one).
    public static let defaultMaxTokens = 4096

    public init(_ request: ChatRequest) {
        self.request = request
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, system, stream, temperature, tools, metadata
        case maxTokens = "max_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case stopSequences = "stop_sequences"
        case toolChoice = "tool_choice"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let model = try container.decode(String.self, forKey: .model)
        if model.isEmpty { throw container.invalid(.model, "must not be empty") }
        let maxTokens = try container.decode(Int.self, forKey: .maxTokens)
        if maxTokens < 1 { throw container.invalid(.maxTokens, "must be at least 1") }
        var messages: [ChatMessage] = []
        if let system = try container.decodeIfPresent(JSONValue.self, forKey: .system) {
            guard let text = Self.text(of: system) else { throw container.invalid(.system, "must be a string or an array of text blocks") }
            messages.append(.text(.system, text))
        }
        let wireMessages = try container.decode([WireMessage].self, forKey: .messages)
        if wireMessages.isEmpty { throw container.invalid(.messages, "must contain at least one message") }
        for message in wireMessages {
            messages.append(contentsOf: message.canonical)
        }
        var request = ChatRequest(model: model, messages: messages)
        request.maxTokens = maxTokens
        request.stream = try container.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        request.includeUsage = true
        request.temperature = try container.decodeIfPresent(Double.self, forKey: .temperature)
        if let temperature = request.temperature, !(0...1).contains(temperature) {
            throw container.invalid(.temperature, "must be between 0 and 1")
        }
        request.topP = try container.decodeIfPresent(Double.self, forKey: .topP)
        request.topK = try container.decodeIfPresent(Int.self, forKey: .topK)
        request.stop = try container.decodeIfPresent([String].self, forKey: .stopSequences)
        request.tools = try container.decodeIfPresent([JSONValue].self, forKey: .tools)?.enumerated().map { index, tool in
            guard case .object(let fields) = tool else { throw container.invalid(.tools, "tools[\(index)] must be an object") }
            // A client tool has an input schema (and no type, or `custom`); a tool Anthropic defines
            // (`web_search_20250305`, `bash_20250124`, `mcp_toolset`, …) has a type and none: kept as it came.
            let type = fields["type"]?.stringValue
            guard let name = fields["name"]?.stringValue ?? (type == nil || type == "custom" ? nil : type) else {
                throw container.invalid(.tools, "tools[\(index)] needs a name")
            }
            if let schema = fields["input_schema"], type == nil || type == "custom" {
                return ToolDefinition(name: name, description: fields["description"]?.stringValue, parameters: schema)
            }
            guard let type, type != "custom" else { throw container.invalid(.tools, "tools[\(index)] needs an input_schema") }
            return ToolDefinition(name: name, builtIn: ToolDefinition.BuiltInTool(wire: .anthropic, definition: tool))
        }
        if let choice = try container.decodeIfPresent(JSONValue.self, forKey: .toolChoice) {
            switch choice["type"]?.stringValue {
            case "auto": request.toolChoice = .auto
            case "any": request.toolChoice = .required
            case "none": request.toolChoice = ToolChoice.none
            case "tool":
                guard let name = choice["name"]?.stringValue else { throw container.invalid(.toolChoice, "a tool choice needs 'name'") }
                request.toolChoice = .function(name)
            default: throw container.invalid(.toolChoice, "type must be auto, any, tool or none")
            }
            if choice["disable_parallel_tool_use"] == .bool(true) { request.parallelToolCalls = false }
        }
        request.user = try container.decodeIfPresent(JSONValue.self, forKey: .metadata)?["user_id"]?.stringValue
        self.request = request
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(request.model, forKey: .model)
        try container.encode(request.maxTokens ?? Self.defaultMaxTokens, forKey: .maxTokens)
        var system = request.messages.filter { $0.role == .system || $0.role == .developer }.map(\.text).joined(separator: "\n\n")
        if let instruction = Self.jsonInstruction(request.responseFormat) {
            system += system.isEmpty ? instruction : "\n\n" + instruction
        }
        if !system.isEmpty { try container.encode(system, forKey: .system) }
        try container.encode(Self.wireMessages(from: request.messages), forKey: .messages)
        if request.stream { try container.encode(true, forKey: .stream) }
        try container.encodeIfPresent(request.temperature.map { min($0, 1) }, forKey: .temperature)
        try container.encodeIfPresent(request.topP, forKey: .topP)
        try container.encodeIfPresent(request.topK, forKey: .topK)
        try container.encodeIfPresent(request.stop, forKey: .stopSequences)
        if let tools = request.tools {
            try container.encode(
                tools.map { tool -> JSONValue in
                    if let builtIn = tool.builtIn, builtIn.wire == .anthropic { return builtIn.definition }
                    var fields: [String: JSONValue] = ["name": .string(tool.name), "input_schema": tool.parameters ?? .object(["type": .string("object")])]
                    if let description = tool.description { fields["description"] = .string(description) }
                    return .object(fields)
                },
                forKey: .tools
            )
        }
        // Anthropic says "one tool call at a time" inside `tool_choice` only: an OpenAI request that says
        // it without a choice gets the default one, `auto`, to carry it.
        let onlyOneCall = request.parallelToolCalls == false && request.tools?.isEmpty == false
        if let choice = request.toolChoice ?? (onlyOneCall ? .auto : nil) {
            var value: [String: JSONValue] = switch choice {
            case .auto: ["type": .string("auto")]
            case .required: ["type": .string("any")]
            case .none: ["type": .string("none")]
            case .function(let name): ["type": .string("tool"), "name": .string(name)]
            // Refused before encoding (`HTTPProviderAdapter`); the default if it ever got here.
            case .openAIOnly: ["type": .string("auto")]
            }
            // `none` calls no tool, and its documented shape has no other field.
            if request.parallelToolCalls == false, choice != ToolChoice.none { value["disable_parallel_tool_use"] = .bool(true) }
            try container.encode(JSONValue.object(value), forKey: .toolChoice)
        }
        if let user = request.user {
            try container.encode(JSONValue.object(["user_id": .string(user)]), forKey: .metadata)
        }
    }

    /// Anthropic's API has no `response_format`: a request for JSON (`json_object`, or `json_schema` with
    /// its schema) becomes an instruction in the system prompt, rather than being dropped unsaid.
    static func jsonInstruction(_ format: JSONValue?) -> String? {
        switch format?["type"]?.stringValue {
        case "json_object":
            return "Answer with a single JSON object and nothing else: no prose, no code fences."
        case "json_schema":
            let schema = format?["json_schema"]?["schema"]
            let text = schema.flatMap { try? WireJSON.encode($0) }.map { String(buffer: $0) }
            return "Answer with a single JSON object and nothing else: no prose, no code fences."
                + (text.map { " It must match this JSON schema: \($0)" } ?? "")
        default:
            return nil
        }
    }

    static func text(of value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .array(let blocks):
            return blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
        default: return nil
        }
    }

    /// Canonical messages → Anthropic turns: system messages leave, tool results become `tool_result`
    /// blocks of a user turn, and consecutive turns of one role merge (Anthropic wants them alternating).
    static func wireMessages(from messages: [ChatMessage]) -> [JSONValue] {
        var turns: [(role: String, blocks: [JSONValue])] = []
        func append(_ role: String, _ blocks: [JSONValue]) {
            // Anthropic refuses an empty (or blank) text block; OpenAI's `content: ""` beside tool calls means
            // no text (an SDK's own accumulated stream gives it). Dropped when the turn says something else.
            var blocks = blocks
            if blocks.count > 1 {
                let said = blocks.filter { !($0["type"]?.stringValue == "text" && ($0["text"]?.stringValue?.allSatisfy(\.isWhitespace) ?? false)) }
                if !said.isEmpty { blocks = said }
            }
            guard !blocks.isEmpty else { return }
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].blocks.append(contentsOf: blocks)
            } else {
                turns.append((role, blocks))
            }
        }
        for message in messages {
            switch message.role {
            case .system, .developer:
                continue
            case .user:
                append("user", message.content.map(block(for:)))
            case .tool:
                let textOnly = message.content.allSatisfy { if case .text = $0 { true } else { false } }
                var result: [String: JSONValue] = [
                    "type": .string("tool_result"),
                    "tool_use_id": .string(message.toolCallID ?? ""),
                    "content": textOnly ? .string(message.text) : .array(message.content.map(block(for:))),
                ]
                if message.isToolError { result["is_error"] = .bool(true) }
                append("user", [.object(result)])
            case .assistant:
                var blocks = message.content.map(block(for:))
                for call in message.toolCalls {
                    let input = call.anthropicInput
                    blocks.append(.object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": input]))
                }
                append("assistant", blocks)
            }
        }
        return turns.map { turn in
            // A single text block is sent as a plain string, the shape most proxies and logs expect.
            if turn.blocks.count == 1, turn.blocks[0]["type"]?.stringValue == "text", let text = turn.blocks[0]["text"] {
                return .object(["role": .string(turn.role), "content": text])
            }
            return .object(["role": .string(turn.role), "content": .array(turn.blocks)])
        }
    }

    static func block(for part: ContentPart) -> JSONValue {
        switch part {
        case .text(let text):
            return .object(["type": .string("text"), "text": .string(text)])
        case .imageURL(let url, _):
            // data:<media type>;base64,<data> becomes a base64 source; anything else a URL source.
            if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), let semicolon = url.firstIndex(of: ";") {
                let mediaType = String(url[url.index(url.startIndex, offsetBy: 5)..<semicolon])
                return .object([
                    "type": .string("image"),
                    "source": .object(["type": .string("base64"), "media_type": .string(mediaType), "data": .string(String(url[url.index(after: comma)...]))]),
                ])
            }
            return .object(["type": .string("image"), "source": .object(["type": .string("url"), "url": .string(url)])])
        case .other(let value):
            return value
        }
    }

    /// One Anthropic turn, read into one or more canonical messages (tool results become `tool` messages).
    struct WireMessage: Decodable {
        var canonical: [ChatMessage]

        enum CodingKeys: String, CodingKey {
            case role, content
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let role = try container.decode(String.self, forKey: .role)
            guard role == "user" || role == "assistant" else { throw container.invalid(.role, "must be user or assistant") }
            let content = try container.decode(JSONValue.self, forKey: .content)
            if case .string(let text) = content {
                canonical = [.text(role == "user" ? .user : .assistant, text)]
                return
            }
            guard case .array(let blocks) = content else { throw container.invalid(.content, "must be a string or an array of content blocks") }
            var toolMessages: [ChatMessage] = []
            var message = ChatMessage(role: role == "user" ? .user : .assistant, contentIsText: false)
            for block in blocks {
                switch block["type"]?.stringValue {
                case "text":
                    message.content.append(.text(block["text"]?.stringValue ?? ""))
                case "image":
                    let source = block["source"]
                    if source?["type"]?.stringValue == "base64", let media = source?["media_type"]?.stringValue, let data = source?["data"]?.stringValue {
                        message.content.append(.imageURL(url: "data:\(media);base64,\(data)", detail: nil))
                    } else if let url = source?["url"]?.stringValue {
                        message.content.append(.imageURL(url: url, detail: nil))
                    } else if source?["type"]?.stringValue != nil {
                        // Another source (the Files API's `file`): the block as it came, for an Anthropic provider.
                        message.content.append(.other(block))
                    } else {
                        throw container.invalid(.content, "an image block needs a source")
                    }
                case "tool_use":
                    guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                        throw container.invalid(.content, "a tool_use block needs id and name")
                    }
                    let arguments = ToolCall.arguments(fromAnthropicInput: block["input"])
                    message.toolCalls.append(ToolCall(id: id, name: name, arguments: arguments))
                case "tool_result":
                    guard let id = block["tool_use_id"]?.stringValue else { throw container.invalid(.content, "a tool_result block needs tool_use_id") }
                    // Text stays text; an image, a document or a search result a tool returned is kept as
                    // its block, for a provider that can take it.
                    let parts: [ContentPart] = switch block["content"] {
                    case .array(let blocks)?:
                        blocks.map { $0["type"]?.stringValue == "text" ? .text($0["text"]?.stringValue ?? "") : .other($0) }
                    case let content?: [.text(AnthropicMessagesRequest.text(of: content) ?? "")]
                    case nil: [.text("")]
                    }
                    var result = ChatMessage(role: .tool, content: parts, contentIsText: parts.count == 1, toolCallID: id)
                    result.isToolError = block["is_error"] == .bool(true)
                    toolMessages.append(result)
                case "thinking", "redacted_thinking":
                    continue
                case .some:
                    message.content.append(.other(block))
                case nil:
                    throw container.invalid(.content, "a content block needs 'type'")
                }
            }
            if message.content.count == 1, case .text = message.content[0] { message.contentIsText = true }
            canonical = toolMessages
            if !message.content.isEmpty || !message.toolCalls.isEmpty { canonical.append(message) }
        }
    }
}
