public import ArchwayCore
public import NIOCore

/// OpenAI wire to OpenAI wire without re-encoding: the client's body goes upstream as bytes, and the
/// upstream's answer (or each stream event) comes back as bytes, with only the model name rewritten.
/// What telemetry needs is read out with `JSONScanner` on the way.
public enum OpenAIPassthrough {
    /// The upstream body: the client's bytes with `model` set to `model` and, for a stream, usage asked
    /// for (telemetry and cost need it even when the client did not ask).
    public static func upstreamBody(_ wire: WireBytes, model: String, stream: Bool) throws -> ByteBuffer {
        var edits: [(Range<Int>, Replacement)] = []
        var streamOptions: Range<Int>?
        var usageRequested = false
        var objectStart = 0
        try wire.bytes.withUnsafeReadableBytes { raw in
            let scanner = JSONScanner(raw)
            let object = try scanner.value(at: 0)
            objectStart = object.lowerBound
            try scanner.forEachMember(of: object) { member in
                if scanner.key(of: member, is: "model") {
                    edits.append((member.value, .string(model)))
                } else if stream, scanner.key(of: member, is: "stream_options") {
                    streamOptions = member.value
                    usageRequested = (try? scanner.member("include_usage", of: member.value, scanner.bool)) == true
                }
            }
        }
        if stream, !usageRequested {
            if let streamOptions {
                edits.append((streamOptions, .literal(#"{"include_usage":true}"#)))
            } else {
                edits.append(((objectStart + 1)..<(objectStart + 1), .literal(#""stream_options":{"include_usage":true},"#)))
            }
        }
        var out = ByteBuffer()
        out.reserveCapacity(wire.bytes.readableBytes + model.utf8.count + 48)
        write(wire.bytes, edits: edits, into: &out)
        return out
    }

    /// Reads a non-streamed chat completion: id, model, usage and finish reasons, with the body kept to
    /// be relayed. Throws if it is not a chat completion.
    public static func response(_ body: ByteBuffer) throws -> Relayable<ChatResponse> {
        var response = ChatResponse(id: "", model: "", created: 0, choices: [], usage: nil)
        var wire = WireBytes(bytes: body)
        var sawChoices = false
        try body.withUnsafeReadableBytes { raw in
            let scanner = JSONScanner(raw)
            try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                if scanner.readIdentity(member, id: &response.id, model: &response.model, created: &response.created, modelRanges: &wire.modelRanges) {
                    return
                } else if scanner.key(of: member, is: "system_fingerprint") {
                    response.systemFingerprint = scanner.string(member.value)
                } else if scanner.key(of: member, is: "usage") {
                    response.usage = try scanner.usage(member.value)
                } else if scanner.key(of: member, is: "choices") {
                    sawChoices = true
                    try scanner.forEachElement(of: member.value) { element in
                        var choice = ChatResponse.Choice(index: response.choices.count, message: ChatMessage(role: .assistant), finishReason: nil)
                        var sawMessage = false
                        try scanner.forEachMember(of: element) { field in
                            if scanner.key(of: field, is: "index") {
                                choice.index = scanner.int(field.value) ?? choice.index
                            } else if scanner.key(of: field, is: "finish_reason") {
                                choice.finishReason = scanner.string(field.value).map(FinishReason.init(openAI:))
                            } else if scanner.key(of: field, is: "message") {
                                sawMessage = scanner.bytes[field.value.lowerBound] == UInt8(ascii: "{")
                            }
                        }
                        guard sawMessage else { throw JSONScanner.Failure(offset: element.lowerBound) }
                        response.choices.append(choice)
                    }
                }
            }
        }
        guard sawChoices else { throw JSONScanner.Failure(offset: 0) }
        return Relayable(response, wire: wire)
    }

    /// An `{"error": …}` event in an upstream's stream.
    public struct ErrorEvent: Error, Sendable {
        public let message: String
    }

    /// Reads one stream event's data (a `chat.completion.chunk`), keeping its bytes to be relayed.
    /// An `{"error": …}` event throws `ErrorEvent`.
    public static func chunk(_ data: ByteBuffer) throws -> Relayable<ChatChunk> {
        var chunk = ChatChunk(id: "", model: "", created: 0, choices: [])
        // An event the upstream wrote on several `data:` lines (legal SSE) reaches here joined by line
        // feeds, which would end the relayed `data:` line early: kept on one line, offsets unchanged.
        var wire = WireBytes(bytes: data.readableBytesView.contains(UInt8(ascii: "\n")) ? Self.oneLine(data) : data)
        var errorMessage: String?
        try data.withUnsafeReadableBytes { raw in
            let scanner = JSONScanner(raw)
            try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                if scanner.readIdentity(member, id: &chunk.id, model: &chunk.model, created: &chunk.created, modelRanges: &wire.modelRanges) {
                    return
                } else if scanner.key(of: member, is: "usage") {
                    if !scanner.isNull(member.value) {
                        chunk.usage = try scanner.usage(member.value)
                        wire.usageRange = member.value
                    }
                } else if scanner.key(of: member, is: "choices") {
                    try scanner.forEachElement(of: member.value) { element in
                        chunk.choices.append(try scanner.chunkChoice(element, position: chunk.choices.count))
                    }
                } else if scanner.key(of: member, is: "error") {
                    errorMessage = (try? scanner.member("message", of: member.value, scanner.string)) ?? scanner.string(member.value) ?? "upstream error"
                }
            }
        }
        if let errorMessage, chunk.choices.isEmpty {
            throw ErrorEvent(message: errorMessage)
        }
        return Relayable(chunk, wire: wire)
    }

    static func oneLine(_ data: ByteBuffer) -> ByteBuffer {
        var line = ByteBuffer()
        line.reserveCapacity(data.readableBytes)
        line.writeOnOneLine(data)
        return line
    }

    /// Writes `wire`'s bytes with its model name replaced by `model` and, with `droppingUsage`, its usage
    /// by `null`.
    public static func write(_ wire: WireBytes, model: String, droppingUsage: Bool = false, into out: inout ByteBuffer) {
        var edits = wire.modelRanges.map { ($0, Replacement.string(model)) }
        if droppingUsage, let usage = wire.usageRange {
            edits.append((usage, .literal("null")))
        }
        write(wire.bytes, edits: edits, into: &out)
    }

    enum Replacement {
        case string(String)
        case literal(StaticString)
    }

    /// Copies `bytes`, replacing each edit's range (ranges do not overlap) with its replacement.
    private static func write(_ bytes: ByteBuffer, edits: [(Range<Int>, Replacement)], into out: inout ByteBuffer) {
        var cursor = 0
        for (range, replacement) in edits.count > 1 ? edits.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) : edits {
            out.writeImmutableBuffer(bytes.getSlice(at: bytes.readerIndex + cursor, length: range.lowerBound - cursor)!)
            switch replacement {
            case .string(let text): out.writeJSONString(text)
            case .literal(let text): out.writeStaticString(text)
            }
            cursor = range.upperBound
        }
        out.writeImmutableBuffer(bytes.getSlice(at: bytes.readerIndex + cursor, length: bytes.readableBytes - cursor)!)
    }
}

extension JSONScanner {
    /// Reads `id`, `model` (noting its range, to rewrite) or `created`, which completions and chunks share;
    /// false if the member is none of them.
    func readIdentity(_ member: Member, id: inout String, model: inout String, created: inout Int, modelRanges: inout [Range<Int>]) -> Bool {
        if key(of: member, is: "id") {
            id = string(member.value) ?? ""
        } else if key(of: member, is: "model") {
            model = string(member.value) ?? ""
            modelRanges.append(member.value)
        } else if key(of: member, is: "created") {
            created = int(member.value) ?? 0
        } else {
            return false
        }
        return true
    }

    /// The OpenAI `usage` object.
    func usage(_ range: Range<Int>) throws -> Usage {
        var usage = Usage(inputTokens: 0, outputTokens: 0)
        try forEachMember(of: range) { member in
            if key(of: member, is: "prompt_tokens") {
                usage.inputTokens = int(member.value) ?? 0
            } else if key(of: member, is: "completion_tokens") {
                usage.outputTokens = int(member.value) ?? 0
            } else if key(of: member, is: "prompt_tokens_details"), !isNull(member.value) {
                usage.cacheReadTokens = try self.member("cached_tokens", of: member.value, int)
            } else if key(of: member, is: "completion_tokens_details"), !isNull(member.value) {
                usage.reasoningTokens = try self.member("reasoning_tokens", of: member.value, int)
            }
        }
        return usage
    }

    /// One choice of a chunk: index, finish reason and its delta's role, text and tool call fragments.
    func chunkChoice(_ range: Range<Int>, position: Int) throws -> ChatChunk.Choice {
        var choice = ChatChunk.Choice(index: position)
        try forEachMember(of: range) { member in
            if key(of: member, is: "index") {
                choice.index = int(member.value) ?? position
            } else if key(of: member, is: "finish_reason") {
                choice.finishReason = string(member.value).map(FinishReason.init(openAI:))
            } else if key(of: member, is: "delta"), !isNull(member.value) {
                try forEachMember(of: member.value) { field in
                    if key(of: field, is: "role") {
                        choice.role = string(field.value).flatMap(ChatMessage.Role.init(rawValue:))
                    } else if key(of: field, is: "content") {
                        choice.content = string(field.value)
                    } else if key(of: field, is: "tool_calls"), !isNull(field.value) {
                        try forEachElement(of: field.value) { element in
                            choice.toolCalls.append(try toolCallDelta(element, position: choice.toolCalls.count))
                        }
                    }
                }
            }
        }
        return choice
    }

    private func toolCallDelta(_ range: Range<Int>, position: Int) throws -> ChatChunk.ToolCallDelta {
        var delta = ChatChunk.ToolCallDelta(index: position)
        try forEachMember(of: range) { member in
            if key(of: member, is: "index") {
                delta.index = int(member.value) ?? position
            } else if key(of: member, is: "id") {
                delta.id = string(member.value)
            } else if key(of: member, is: "function"), !isNull(member.value) {
                delta.name = try self.member("name", of: member.value, string)
                delta.arguments = try self.member("arguments", of: member.value, string)
            }
        }
        return delta
    }

    /// The value of the member `name` of the object `range` holds, read by `read`; nil when absent.
    func member<Value>(_ name: StaticString, of range: Range<Int>, _ read: (Range<Int>) -> Value?) throws -> Value? {
        var found: Value?
        try forEachMember(of: range) { member in
            if key(of: member, is: name) { found = read(member.value) }
        }
        return found
    }
}
