public import ArchwayCore
public import NIOCore

extension OpenAIChatRequest {
    /// Decodes a client's chat request: plain conversations (text messages, the usual sampling
    /// parameters) with `JSONScanner`, everything else, and every invalid body, with the `Codable`
    /// decoder, which also words the errors.
    public static func decode(from body: ByteBuffer) throws(GatewayError) -> ChatRequest {
        if let request = scanPlain(body) { return request }
        return try WireJSON.decodeRequest(OpenAIChatRequest.self, from: body).request
    }

    /// The request, if `body` is a plain one that is valid; nil for anything else (tools, content parts,
    /// unknown fields, nulls, duplicate keys, out-of-range values, malformed JSON), which the `Codable`
    /// decoder then reads or rejects. For what it accepts it returns what that decoder returns.
    static func scanPlain(_ body: ByteBuffer) -> ChatRequest? {
        body.withUnsafeReadableBytes { raw -> ChatRequest? in
            let scanner = JSONScanner(raw)
            var request = ChatRequest(model: "", messages: [])
            var seen = PlainField.Set()
            var maxTokens: Int?
            var maxCompletionTokens: Int?
            do {
                let object = try scanner.value(at: 0)
                guard scanner.bytes[object.lowerBound] == UInt8(ascii: "{"),
                      scanner.skipWhitespace(from: object.upperBound) == raw.count else { return nil }
                try scanner.forEachMember(of: object) { member in
                    guard let field = PlainField(member, scanner), !seen.contains(field) else { throw NotPlain() }
                    seen.insert(field)
                    let value = member.value
                    switch field {
                    case .model:
                        request.model = try scanner.string(value).unless(\.isEmpty)
                    case .messages:
                        try scanner.forEachElement(of: value) { element in
                            request.messages.append(try scanner.plainMessage(element))
                        }
                    case .stream:
                        request.stream = try scanner.bool(value).orThrow()
                    case .streamOptions:
                        try scanner.forEachMember(of: value) { option in
                            guard scanner.key(of: option, is: "include_usage") else { throw NotPlain() }
                            request.includeUsage = try scanner.bool(option.value).orThrow()
                        }
                    case .temperature:
                        let temperature = try scanner.plainDouble(value)
                        guard (0...2).contains(temperature) else { throw NotPlain() }
                        request.temperature = temperature
                    case .topP:
                        request.topP = try scanner.plainDouble(value)
                    case .topK:
                        request.topK = try scanner.plainInt(value)
                    case .maxTokens:
                        maxTokens = try scanner.plainInt(value)
                    case .maxCompletionTokens:
                        maxCompletionTokens = try scanner.plainInt(value)
                    case .stop:
                        if let single = scanner.string(value) {
                            request.stop = [single]
                        } else {
                            var stops: [String] = []
                            try scanner.forEachElement(of: value) { stops.append(try scanner.string($0).orThrow()) }
                            request.stop = stops
                        }
                    case .seed:
                        request.seed = try scanner.plainInt(value)
                    case .frequencyPenalty:
                        request.frequencyPenalty = try scanner.plainDouble(value)
                    case .presencePenalty:
                        request.presencePenalty = try scanner.plainDouble(value)
                    case .n:
                        let count = try scanner.plainInt(value)
                        guard count >= 1 else { throw NotPlain() }
                        request.choiceCount = count
                    case .parallelToolCalls:
                        request.parallelToolCalls = try scanner.bool(value).orThrow()
                    case .user:
                        request.user = try scanner.string(value).orThrow()
                    }
                }
            } catch {
                return nil
            }
            request.maxTokens = maxCompletionTokens ?? maxTokens
            request.maxTokensIsCompletion = maxCompletionTokens != nil
            if let limit = request.maxTokens, limit < 1 { return nil }
            guard !request.model.isEmpty, !request.messages.isEmpty else { return nil }
            return request
        }
    }

    /// The top-level fields a plain request may have.
    enum PlainField: Int {
        case model, messages, stream, streamOptions, temperature, topP, topK, maxTokens, maxCompletionTokens
        case stop, seed, frequencyPenalty, presencePenalty, n, parallelToolCalls, user

        struct Set {
            private var bits: UInt32 = 0
            func contains(_ field: PlainField) -> Bool { bits & (1 << field.rawValue) != 0 }
            mutating func insert(_ field: PlainField) { bits |= 1 << field.rawValue }
        }

        init?(_ member: JSONScanner.Member, _ scanner: JSONScanner) {
            guard let match = Self.names.first(where: { scanner.key(of: member, is: $0.0) }) else { return nil }
            self = match.1
        }

        private static let names: [(StaticString, PlainField)] = [
            ("model", .model), ("messages", .messages), ("stream", .stream), ("stream_options", .streamOptions),
            ("temperature", .temperature), ("top_p", .topP), ("top_k", .topK), ("max_tokens", .maxTokens),
            ("max_completion_tokens", .maxCompletionTokens), ("stop", .stop), ("seed", .seed),
            ("frequency_penalty", .frequencyPenalty), ("presence_penalty", .presencePenalty), ("n", .n),
            ("parallel_tool_calls", .parallelToolCalls), ("user", .user),
        ]
    }
}

/// Thrown inside the plain-request scan when the body needs the `Codable` decoder.
struct NotPlain: Error {}

extension JSONScanner {
    /// A message with a role other than `tool`, text `content` and an optional `name`, and nothing else.
    fileprivate func plainMessage(_ range: Range<Int>) throws -> ChatMessage {
        var role: ChatMessage.Role?
        var text: String?
        var name: String?
        try forEachMember(of: range) { member in
            if key(of: member, is: "role"), role == nil {
                role = try string(member.value).flatMap(ChatMessage.Role.init(rawValue:)).orThrow()
            } else if key(of: member, is: "content"), text == nil {
                text = try string(member.value).orThrow()
            } else if key(of: member, is: "name"), name == nil {
                name = try string(member.value).orThrow()
            } else {
                throw NotPlain()
            }
        }
        guard let role, role != .tool, let text else { throw NotPlain() }
        return ChatMessage(role: role, content: [.text(text)], contentIsText: true, name: name)
    }

    /// An integer written as JSON digits only (a fraction or exponent is left to the decoder to judge).
    fileprivate func plainInt(_ range: Range<Int>) throws -> Int {
        guard isStrictNumber(range) else { throw NotPlain() }
        for index in range where !(bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9")) {
            guard index == range.lowerBound, bytes[index] == UInt8(ascii: "-") else { throw NotPlain() }
        }
        return try int(range).orThrow()
    }

    /// A number as JSON writes it.
    fileprivate func plainDouble(_ range: Range<Int>) throws -> Double {
        guard isStrictNumber(range) else { throw NotPlain() }
        return try double(range).orThrow()
    }
}

extension Optional {
    /// The value, or `NotPlain` when there is none.
    fileprivate func orThrow() throws -> Wrapped {
        guard let self else { throw NotPlain() }
        return self
    }

    /// The value unless it matches `excluded`, or `NotPlain`.
    fileprivate func unless(_ excluded: (Wrapped) -> Bool) throws -> Wrapped {
        guard let self, !excluded(self) else { throw NotPlain() }
        return self
    }
}
