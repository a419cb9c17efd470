public import ArchwayCore
public import NIOCore

/// Anthropic wire to Anthropic wire without re-encoding, as `OpenAIPassthrough` does for OpenAI: the
/// client's body goes upstream as bytes and the answer (or each stream event) comes back as bytes, with
/// only the model name rewritten. What Archway does not model survives: `cache_control` (prompt caching),
/// `thinking` and thinking blocks, `stop_sequence`, block-level citations, betas' fields.
public enum AnthropicPassthrough {
    /// The upstream body: the client's bytes with `model` set to `model`.
    public static func upstreamBody(_ wire: WireBytes, model: String) throws -> ByteBuffer {
        var body = wire
        body.modelRanges = try topLevelModelRanges(wire.bytes)
        guard !body.modelRanges.isEmpty else { throw JSONScanner.Failure(offset: 0) }
        var out = ByteBuffer()
        out.reserveCapacity(wire.bytes.readableBytes + model.utf8.count)
        OpenAIPassthrough.write(body, model: model, into: &out)
        return out
    }

    /// A non-streamed Messages answer: decoded (telemetry, and a value for whatever must rewrite it),
    /// with its bytes kept to be relayed and the range of its `model`.
    public static func response(_ body: ByteBuffer) throws -> Relayable<ChatResponse> {
        let value = try WireJSON.decoder.decode(AnthropicMessagesResponse.self, from: body).response
        let ranges = try topLevelModelRanges(body)
        return Relayable(value, wire: WireBytes(bytes: body, format: .anthropic, modelRanges: ranges))
    }

    /// One upstream stream event as the bytes to relay (its `event:` and `data:` lines), with the range
    /// of the model a `message_start` names.
    public static func event(_ raw: SSEParser.RawEvent) -> WireBytes {
        var out = ByteBuffer()
        out.reserveCapacity(raw.data.readableBytes + 32)
        // An event sent without its `event:` line gets it from its `type`, as Anthropic's SDKs need it.
        // Only a plain name: the upstream's text never writes lines of its own into the client's stream.
        let name = raw.event ?? ((try? raw.data.withUnsafeReadableBytes { bytes -> String? in
            let scanner = JSONScanner(bytes)
            return try scanner.member("type", of: try scanner.value(at: 0), scanner.string)
        }) ?? nil).flatMap { type in
            !type.isEmpty && type.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) } ? type : nil
        }
        if let name {
            out.writeStaticString("event: ")
            out.writeString(name)
            out.writeStaticString("\n")
        }
        out.writeStaticString("data: ")
        let dataStart = out.writerIndex - out.readerIndex
        // Offsets kept, so the model is renamed in place.
        out.writeOnOneLine(raw.data)
        out.writeStaticString("\n\n")
        var ranges: [Range<Int>] = []
        if name == "message_start" {
            ranges = (try? raw.data.withUnsafeReadableBytes { bytes -> [Range<Int>] in
                let scanner = JSONScanner(bytes)
                var found: [Range<Int>] = []
                try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                    if scanner.key(of: member, is: "message") {
                        found = try modelRanges(scanner, in: member.value)
                    }
                }
                return found.map { ($0.lowerBound + dataStart)..<($0.upperBound + dataStart) }
            }) ?? []
        }
        return WireBytes(bytes: out, format: .anthropic, modelRanges: ranges)
    }

    /// The range of a document's top-level `model` string value.
    static func topLevelModelRanges(_ bytes: ByteBuffer) throws -> [Range<Int>] {
        try bytes.withUnsafeReadableBytes { raw in
            let scanner = JSONScanner(raw)
            return try modelRanges(scanner, in: scanner.value(at: 0))
        }
    }

    /// The range of an object's `model` string value.
    static func modelRanges(_ scanner: JSONScanner, in object: Range<Int>) throws -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        try scanner.forEachMember(of: object) { member in
            if scanner.key(of: member, is: "model"), scanner.string(member.value) != nil { ranges.append(member.value) }
        }
        return ranges
    }
}
