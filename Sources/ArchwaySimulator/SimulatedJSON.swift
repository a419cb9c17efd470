import ArchwayCore

/// A JSON document that fits a `response_format` JSON schema, made of the simulator's words: objects
/// with every property, lists of two to four items (within `minItems`/`maxItems`), enums by choice,
/// numbers small. Deterministic for a seed, so a workflow run on the simulator is reproducible.
enum SimulatedJSON {
    static func value(for schema: JSONValue, random: inout SplitMix64, depth: Int = 0) -> JSONValue {
        guard depth < 8, case .object(let fields) = schema else { return .string(words(2, random: &random)) }
        if case .array(let options)? = fields["enum"], !options.isEmpty {
            return options[random.nextIndex(below: options.count)]
        }
        if case .array(let options)? = fields["anyOf"] ?? fields["oneOf"], let first = options.first {
            return value(for: first, random: &random, depth: depth + 1)
        }
        var type = fields["type"]?.stringValue
        if type == nil, case .array(let types)? = fields["type"] {
            type = types.compactMap(\.stringValue).first { $0 != "null" }
        }
        if type == nil, fields["properties"] != nil { type = "object" }
        switch type {
        case "object":
            guard case .object(let properties)? = fields["properties"] else { return .object([:]) }
            var object: [String: JSONValue] = [:]
            for name in properties.keys.sorted() {
                object[name] = value(for: properties[name] ?? .null, random: &random, depth: depth + 1)
            }
            return .object(object)
        case "array":
            let low = min(schema.intValue(forKey: "minItems") ?? 2, 16)
            let high = max(low, min(schema.intValue(forKey: "maxItems") ?? 4, 16))
            let count = low + random.nextIndex(below: high - low + 1)
            return .array((0..<count).map { _ in value(for: fields["items"] ?? .null, random: &random, depth: depth + 1) })
        case "integer":
            return .number(Double(1 + random.nextIndex(below: 100)))
        case "number":
            return .number(Double(random.nextIndex(below: 10_000)) / 100)
        case "boolean":
            return .bool(random.nextIndex(below: 2) == 1)
        case "null":
            return .null
        default:
            return .string(words(2 + random.nextIndex(below: 3), random: &random))
        }
    }

    static func words(_ count: Int, random: inout SplitMix64) -> String {
        (0..<count).map { _ in WordList.words[random.nextIndex(below: WordList.words.count)] }.joined(separator: " ")
    }

    /// The schema of a `response_format` `{"type": "json_schema", "json_schema": {"schema": …}}`.
    static func schema(of request: ChatRequest) -> JSONValue? {
        guard case .object(let format)? = request.responseFormat, format["type"]?.stringValue == "json_schema",
              case .object(let wrapper)? = format["json_schema"], let schema = wrapper["schema"] else { return nil }
        return schema
    }
}
