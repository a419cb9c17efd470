import ArchwayCore

/// The text a request carries wherever it sits, for the PII policy: message text, parts the gateway does
/// not interpret (Anthropic `document` and `search_result` blocks, `input_text`, future part types),
/// image URLs, a message's `name`, tool-call arguments, tool descriptions and parameter schemas,
/// `response_format` (its schema), stop sequences, `user` and the fields passed through as they came
/// (`metadata`, `prediction`, …). Binary content cannot be read and is left as it
/// is: base64 `data` (images, PDFs, audio) and base64 `data:` URLs where a URL goes (`image_url`, `url`,
/// `file_data`). Text that merely starts with `data:` (a pasted SSE log, a YAML `data:` block) is text.
extension ChatRequest {
    /// Calls `body` with every readable string, in the order `rewriteReadableText` visits them.
    func forEachReadableText(_ body: (String) -> Void) {
        for message in messages {
            for part in message.content {
                switch part {
                case .text(let text): body(text)
                case .imageURL(let url, _): if !Self.isBase64DataURL(url) { body(url) }
                case .other(let value): value.forEachReadableString(body)
                }
            }
            if let name = message.name { body(name) }
            for call in message.toolCalls { body(call.arguments) }
        }
        for tool in tools ?? [] {
            if let description = tool.description { body(description) }
            tool.parameters?.forEachReadableString(body)
        }
        responseFormat?.forEachReadableString(body)
        for sequence in stop ?? [] { body(sequence) }
        if let user { body(user) }
        for key in extra.keys.sorted() { extra[key]?.forEachReadableString(body) }
    }

    /// Replaces every readable string by what `transform` makes of it.
    mutating func rewriteReadableText(_ transform: (String) -> String) {
        for index in messages.indices {
            var message = messages[index]
            message.content = message.content.map { part in
                switch part {
                case .text(let text): .text(transform(text))
                case .imageURL(let url, let detail): Self.isBase64DataURL(url) ? part : .imageURL(url: transform(url), detail: detail)
                case .other(let value): .other(value.rewritingReadableStrings(transform))
                }
            }
            message.name = message.name.map(transform)
            for call in message.toolCalls.indices {
                let arguments = message.toolCalls[call].arguments
                let redacted = transform(arguments)
                message.toolCalls[call].arguments = redacted == arguments ? arguments : Self.quotingBarePlaceholders(redacted)
            }
            messages[index] = message
        }
        if var definitions = tools {
            for index in definitions.indices {
                definitions[index].description = definitions[index].description.map(transform)
                definitions[index].parameters = definitions[index].parameters?.rewritingReadableStrings(transform)
            }
            tools = definitions
        }
        responseFormat = responseFormat?.rewritingReadableStrings(transform)
        stop = stop?.map(transform)
        user = user.map(transform)
        for key in extra.keys.sorted() { extra[key] = extra[key]?.rewritingReadableStrings(transform) }
    }

    /// Tool-call arguments (a JSON document) with each placeholder that stands outside a string literal
    /// quoted: a value the JSON held as a number (`{"card": 4111111111111111}`) became `[[CREDIT_CARD_1]]`,
    /// which is no JSON, and the provider got invalid arguments (an Anthropic one, none at all). As a
    /// string it stays valid JSON, and the model sees the placeholder. Placeholders begin `[[` and a
    /// capital letter, which nothing valid in JSON does outside a string.
    static func quotingBarePlaceholders(_ arguments: String) -> String {
        let bytes = Array(arguments.utf8)
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
              first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else { return arguments }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                out.append(byte)
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    out.append(bytes[index + 1])
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") { inString = false }
                index += 1
                continue
            }
            if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "["), let end = placeholderEnd(bytes, at: index) {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: bytes[index..<end])
                out.append(UInt8(ascii: "\""))
                index = end
                continue
            }
            out.append(byte)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The end of a placeholder (`[[LABEL]]`, `[[LABEL_3]]`, `[[LABEL_3_x9z]]`) starting at `index`.
    private static func placeholderEnd(_ bytes: [UInt8], at index: Int) -> Int? {
        guard index + 4 < bytes.count, bytes[index + 1] == UInt8(ascii: "["), (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[index + 2]) else { return nil }
        var end = index + 2
        while end < bytes.count, end - index < 64 {
            let byte = bytes[end]
            if byte == UInt8(ascii: "]") {
                return end + 1 < bytes.count && bytes[end + 1] == UInt8(ascii: "]") ? end + 2 : nil
            }
            guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") else { return nil }
            end += 1
        }
        return nil
    }

    /// `data:<media type>[;params];base64,<bytes>`: the media type part has no spaces and ends within
    /// 256 bytes, and what follows the comma is base64 and nothing else. Bytes, not text: nothing a model
    /// reads as words (and no text hidden behind such a header).
    static func isBase64DataURL(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard utf8.starts(with: "data:".utf8) else { return false }
        let header = utf8.dropFirst(5).prefix(256)
        guard let comma = header.firstIndex(of: UInt8(ascii: ",")) else { return false }
        let mediaType = header[..<comma]
        guard mediaType.reversed().starts(with: "46esab;".utf8), !mediaType.contains(where: { $0 <= 0x20 }) else { return false }
        return utf8[utf8.index(after: comma)...].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "-"), UInt8(ascii: "_"), 0x0A, 0x0D:
                true
            default:
                false
            }
        }
    }
}

extension ChatMessage {
    /// What a user or a document says in this message: its text parts and the readable text of parts
    /// the gateway does not interpret (a `document` block is a document all the same), for injection scoring.
    var readableText: String {
        var result = ""
        for part in content {
            switch part {
            case .text(let text): result += text
            case .imageURL: break
            case .other(let value):
                value.forEachReadableString { text in
                    if !result.isEmpty { result += "\n" }
                    result += text
                }
            }
        }
        return result
    }
}

extension JSONValue {
    /// Every string in the value, keys aside, except binary content (see `isBinary`).
    func forEachReadableString(_ body: (String) -> Void) {
        switch self {
        case .string(let text): body(text)
        case .array(let items): for item in items { item.forEachReadableString(body) }
        case .object(let fields):
            for key in fields.keys.sorted() where !Self.isBinary(key, in: fields) { fields[key]?.forEachReadableString(body) }
        case .null, .bool, .number, .integer: break
        }
    }

    func rewritingReadableStrings(_ transform: (String) -> String) -> JSONValue {
        switch self {
        case .string(let text): return .string(transform(text))
        case .array(let items): return .array(items.map { $0.rewritingReadableStrings(transform) })
        case .object(var fields):
            for key in fields.keys.sorted() where !Self.isBinary(key, in: fields) {
                fields[key] = fields[key]?.rewritingReadableStrings(transform)
            }
            return .object(fields)
        case .null, .bool, .number, .integer: return self
        }
    }

    /// The `data` of a base64 source (Anthropic images and documents) or of audio input (`format` beside
    /// it, OpenAI's `input_audio`), a file's `file_data`, and a base64 `data:` URL where a URL goes: bytes,
    /// not text.
    static func isBinary(_ key: String, in fields: [String: JSONValue]) -> Bool {
        switch key {
        case "data": return fields["type"]?.stringValue == "base64" || fields["format"] != nil
        case "file_data": return true
        case "url", "image_url": return fields[key]?.stringValue.map(ChatRequest.isBase64DataURL) ?? false
        default: return false
        }
    }
}
