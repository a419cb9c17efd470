import ArchwayCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Message content in the GenAI conventions' parts structure, as JSON strings for span attributes.
/// Only used when `telemetry.capture_content` is on.
enum ContentCapture {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    static func json(_ value: JSONValue) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// Returns (`gen_ai.system_instructions`, `gen_ai.input.messages`). System and developer messages are
    /// system instructions only for a provider that takes them apart from the conversation (`systemApart`);
    /// otherwise they are part of the history, in order, with their role.
    static func inputMessages(_ messages: [ChatMessage], systemApart: Bool = false) -> (String?, String) {
        var system: [JSONValue] = []
        var conversation: [JSONValue] = []
        for message in messages {
            if systemApart, message.role == .system || message.role == .developer {
                system.append(contentsOf: message.content.compactMap(part))
                continue
            }
            var parts = message.content.compactMap(part)
            if message.role == .tool {
                parts = [.object([
                    "type": .string("tool_call_response"),
                    "id": message.toolCallID.map(JSONValue.string) ?? .null,
                    "response": .string(message.text),
                ])]
            }
            for call in message.toolCalls {
                parts.append(toolCall(call))
            }
            conversation.append(.object(["role": .string(message.role.rawValue), "parts": .array(parts)]))
        }
        return (system.isEmpty ? nil : json(.array(system)), json(.array(conversation)))
    }

    static func outputMessages(_ response: ChatResponse) -> String {
        json(.array(response.choices.map { choice in
            var parts = choice.message.content.compactMap(part)
            for call in choice.message.toolCalls { parts.append(toolCall(call)) }
            return .object([
                "role": .string("assistant"),
                "parts": .array(parts),
                "finish_reason": .string((choice.finishReason ?? .stop) == .toolCalls ? "tool_call" : (choice.finishReason ?? .stop).rawValue),
            ])
        }))
    }

    static func toolDefinitions(_ tools: [ToolDefinition]) -> String {
        json(.array(tools.map { tool in
            var object: [String: JSONValue] = ["type": .string("function"), "name": .string(tool.name)]
            if let description = tool.description { object["description"] = .string(description) }
            if let parameters = tool.parameters { object["parameters"] = parameters }
            return .object(object)
        }))
    }

    static func part(_ part: ContentPart) -> JSONValue? {
        switch part {
        case .text(let text):
            return .object(["type": .string("text"), "content": .string(text)])
        case .imageURL(let url, _):
            // Inline image data is not exported: it is large and rarely useful in a trace.
            if url.hasPrefix("data:") {
                var blob: [String: JSONValue] = ["type": .string("blob"), "modality": .string("image")]
                // `data:image/png;base64,…`: the type is known, the bytes stay out.
                if let end = url.firstIndex(where: { $0 == ";" || $0 == "," }), url.index(url.startIndex, offsetBy: 5) < end {
                    blob["mime_type"] = .string(String(url[url.index(url.startIndex, offsetBy: 5)..<end].prefix(64)))
                }
                return .object(blob)
            }
            return .object(["type": .string("uri"), "modality": .string("image"), "uri": .string(url)])
        case .other:
            return nil
        }
    }

    static func toolCall(_ call: ToolCall) -> JSONValue {
        let arguments = (try? JSONDecoder().decode(JSONValue.self, from: Data(call.arguments.utf8))) ?? .string(call.arguments)
        return .object(["type": .string("tool_call"), "id": .string(call.id), "name": .string(call.name), "arguments": arguments])
    }
}
