import ArchwayCore
import ArchwayWire

/// Simulated tool-call arguments: a JSON object with a placeholder for each required property.
enum ToolArguments {
    /// Builds the arguments by hand, in the schema's `required` order, because encoding a dictionary
    /// would order keys differently in each process and break determinism.
    static func json(for schema: JSONValue?) -> String {
        let properties = schema?["properties"]?.objectValue ?? [:]
        let required = schema?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var members: [String] = []
        var seen: Set<String> = []
        for name in required where seen.insert(name).inserted {
            let value = placeholder(for: properties[name])
            members.append(encode(.string(name)) + ":" + encode(value))
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// string → "sim", number/integer → 1, boolean → true, array → [], object → {}, anything else null;
    /// an `enum` wins over the type, so the value is always one the schema allows.
    static func placeholder(for property: JSONValue?) -> JSONValue {
        if let first = property?["enum"]?.arrayValue?.first { return first }
        let type: String? = switch property?["type"] {
        case .string(let name): name
        case .array(let names): names.compactMap(\.stringValue).first { $0 != "null" }
        default: nil
        }
        switch type {
        case "string": return .string("sim")
        case "number", "integer": return .number(1)
        case "boolean": return .bool(true)
        case "array": return .array([])
        case "object": return .object([:])
        default: return .null
        }
    }

    private static func encode(_ value: JSONValue) -> String {
        guard let data = try? WireJSON.encodeData(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
