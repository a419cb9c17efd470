public import ArchwayCore

extension ToolCall {
    /// Anthropic's `tool_use` block carries the arguments as a JSON object; OpenAI as a string.
    /// Arguments that are not valid JSON become an empty object rather than failing the request.
    var anthropicInput: JSONValue {
        (try? WireJSON.decode(JSONValue.self, from: arguments)) ?? .object([:])
    }

    /// The OpenAI-style arguments string for a `tool_use` block's `input`.
    static func arguments(fromAnthropicInput input: JSONValue?) -> String {
        (try? WireJSON.encodeData(input ?? .object([:]))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
