/// One message of a conversation in Archway's canonical vocabulary (a superset of what the
/// OpenAI and Anthropic wires can express).
public struct ChatMessage: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, Codable {
        case system
        case developer
        case user
        case assistant
        case tool
    }

    public var role: Role
    public var content: [ContentPart]
    /// Whether the client sent `content` as a plain string (so it can be written back the same way).
    public var contentIsText: Bool
    public var name: String?
    public var toolCalls: [ToolCall]
    /// For `role == .tool`: the call this message answers.
    public var toolCallID: String?
    /// For `role == .tool`: the tool failed (Anthropic's `tool_result.is_error`).
    public var isToolError = false

    public init(
        role: Role,
        content: [ContentPart] = [],
        contentIsText: Bool = true,
        name: String? = nil,
        toolCalls: [ToolCall] = [],
        toolCallID: String? = nil
    ) {
        self.role = role
        self.content = content
        self.contentIsText = contentIsText
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    public static func text(_ role: Role, _ text: String) -> ChatMessage {
        ChatMessage(role: role, content: [.text(text)])
    }

    /// The text parts joined, which is what a text-only upstream or a telemetry summary needs.
    public var text: String {
        var result = ""
        for part in content {
            if case .text(let value) = part { result += value }
        }
        return result
    }
}

/// One part of a message's content.
public enum ContentPart: Sendable, Hashable {
    case text(String)
    case imageURL(url: String, detail: String?)
    /// A part type Archway does not interpret (audio, files, …), kept as the client sent it.
    case other(JSONValue)
}

/// A function call the model asked for.
public struct ToolCall: Sendable, Hashable {
    public var id: String
    public var name: String
    /// The arguments as the model produced them: a JSON document in a string, per the OpenAI wire; for a
    /// custom tool's call, its free-form input.
    public var arguments: String
    /// A call of an OpenAI custom tool (`type: custom`), whose input is text, not JSON arguments.
    public var isCustom = false

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A function the model may call.
public struct ToolDefinition: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// JSON Schema of the arguments.
    public var parameters: JSONValue?
    public var strict: Bool?
    /// A tool the provider's API defines itself (Anthropic's `web_search`, `bash`, `text_editor`, …),
    /// as the client sent it: a provider of that wire gets it as it came; one of the other wire cannot
    /// run it, and the request is refused.
    public var builtIn: BuiltInTool?

    /// A provider-defined tool and the wire whose API defines it.
    public struct BuiltInTool: Sendable, Hashable {
        public var wire: WireBytes.Format
        public var definition: JSONValue

        public init(wire: WireBytes.Format, definition: JSONValue) {
            self.wire = wire
            self.definition = definition
        }

        /// Its `type` (`web_search_20250305`), for messages.
        public var type: String { definition["type"]?.stringValue ?? "unknown" }
    }

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil, strict: Bool? = nil, builtIn: BuiltInTool? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
        self.builtIn = builtIn
    }
}

/// How the model may use tools.
public enum ToolChoice: Sendable, Hashable {
    case auto
    case none
    case required
    case function(String)
    /// A choice only the OpenAI wire has (`allowed_tools`, a named `custom` tool), as the client sent it.
    case openAIOnly(JSONValue)
}
