import ArchwayCore
import ArchwayWire
import NIOCore
import Testing

@Suite struct StreamTranslationTests {
    static let chunks: [ChatChunk] = [
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(role: .assistant, content: "")]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(content: "Hel")]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(content: "lo")]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(toolCalls: [.init(index: 0, id: "call_1", name: "f", arguments: "")])]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(toolCalls: [.init(index: 0, arguments: "{\"a\":")])]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(toolCalls: [.init(index: 0, arguments: "1}")])]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(finishReason: .toolCalls)]),
        ChatChunk(id: "c1", model: "up", created: 1, choices: [], usage: Usage(inputTokens: 7, outputTokens: 3)),
    ]

    func events(from buffer: ByteBuffer) -> [ServerSentEvent] {
        var parser = SSEParser()
        parser.append(buffer)
        var events: [ServerSentEvent] = []
        while let event = parser.nextEvent() { events.append(event) }
        return events
    }

    /// A stream's usage reads as the same answer's unstreamed one: cached tokens apart from `input_tokens`.
    @Test func streamedUsageKeepsCachedTokensApart() throws {
        var encoder = AnthropicStreamEncoder(model: "m")
        var buffer = ByteBuffer()
        try encoder.encode(ChatChunk(id: "c1", model: "up", created: 1, choices: [], usage: Usage(inputTokens: 153, outputTokens: 2, cacheReadTokens: 100, cacheCreationTokens: 50)), into: &buffer)
        try encoder.finish(into: &buffer)
        let delta = try #require(events(from: buffer).first { $0.event == "message_delta" })
        let usage = try WireJSON.decode(JSONValue.self, from: delta.data)["usage"]
        #expect(usage?["input_tokens"] == .number(3))
        #expect(usage?["cache_read_input_tokens"] == .number(100))
        #expect(usage?["cache_creation_input_tokens"] == .number(50))
        #expect(usage?["output_tokens"] == .number(2))
    }

    func decoded(_ events: [(String, String)]) throws -> [ChatChunk] {
        var decoder = AnthropicStreamDecoder()
        var chunks: [ChatChunk] = []
        for (name, data) in events {
            if case .chunk(let chunk) = try decoder.decode(ServerSentEvent(event: name, data: data)) { chunks.append(chunk) }
        }
        chunks.append(decoder.usageChunk)
        return chunks
    }

    /// A tool called without arguments streams `{}` (OpenAI's JSON for none), not an empty string no JSON
    /// parser reads, whether its block carried an empty `partial_json` or none.
    @Test(arguments: [true, false])
    func aToolCalledWithoutArgumentsStreamsAnEmptyObject(emptyDelta: Bool) throws {
        var events = [
            ("message_start", #"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"get_time","input":{}}}"#),
        ]
        if emptyDelta { events.append(("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#)) }
        events += [
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t2","name":"add","input":{}}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
        ]
        let calls = try decoded(events).flatMap(\.choices).flatMap(\.toolCalls)
        #expect(calls.filter { $0.index == 0 }.compactMap(\.arguments).joined() == "{}")
        #expect(calls.filter { $0.index == 1 }.compactMap(\.arguments).joined() == #"{"a":1}"#)
    }

    /// A compatible server that gives a tool's whole input in its block's start, with no deltas, streams
    /// those arguments (not `{}`).
    @Test func argumentsGivenWholeInTheBlocksStartAreStreamed() throws {
        let chunks = try decoded([
            ("message_start", #"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"add","input":{"a":1,"b":[2]}}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ])
        #expect(chunks.flatMap(\.choices).flatMap(\.toolCalls).compactMap(\.arguments).joined() == #"{"a":1,"b":[2]}"#)
    }

    /// `message_delta`'s usage is cumulative, cache counts included: they replace `message_start`'s.
    @Test func cacheCountsInTheFinalDeltaCount() throws {
        let chunks = try decoded([
            ("message_start", #"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3,"output_tokens":1}}}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":6,"output_tokens":9,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}"#),
        ])
        let usage = try #require(chunks.last?.usage)
        #expect(usage.inputTokens == 126 && usage.cacheReadTokens == 100 && usage.cacheCreationTokens == 20 && usage.outputTokens == 9)
    }

    /// A stream that a stop sequence ended says which, through decoding and encoding.
    @Test func aStreamsStopSequenceSurvivesTranslation() throws {
        var decoder = AnthropicStreamDecoder()
        let event = ServerSentEvent(event: "message_delta", data: #"{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"output_tokens":4}}"#)
        guard case .chunk(let chunk) = try decoder.decode(event) else { Issue.record("no chunk"); return }
        #expect(chunk.choices.first?.finishReason == .stop)
        #expect(chunk.choices.first?.stopSequence == "END")
        var encoder = AnthropicStreamEncoder(model: "m")
        var buffer = ByteBuffer()
        try encoder.encode(ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(content: "hi")]), into: &buffer)
        try encoder.encode(chunk, into: &buffer)
        try encoder.finish(into: &buffer)
        let delta = try #require(events(from: buffer).first { $0.event == "message_delta" })
        let body = try WireJSON.decode(JSONValue.self, from: delta.data)["delta"]
        #expect(body?["stop_reason"] == .string("stop_sequence"))
        #expect(body?["stop_sequence"] == .string("END"))
    }

    /// The OpenAI wire may interleave parallel tool calls' deltas by index; the Anthropic events still
    /// carry each call in one block, one block after another, each with its own id, name and arguments.
    @Test func interleavedParallelToolCallsBecomeOneBlockEach() throws {
        let calls: [[ChatChunk.ToolCallDelta]] = [
            [.init(index: 0, id: "call_a", name: "get_weather", arguments: "")],
            [.init(index: 1, id: "call_b", name: "get_time", arguments: "")],
            [.init(index: 0, arguments: #"{"cit"#)],
            [.init(index: 1, arguments: #"{"zo"#)],
            [.init(index: 0, arguments: #"y":"Paris"}"#)],
            [.init(index: 1, arguments: #"ne":"CET"}"#)],
        ]
        var encoder = AnthropicStreamEncoder(model: "m")
        var buffer = ByteBuffer()
        for deltas in calls {
            try encoder.encode(ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(toolCalls: deltas)]), into: &buffer)
        }
        try encoder.encode(ChatChunk(id: "c1", model: "up", created: 1, choices: [.init(finishReason: .toolCalls)]), into: &buffer)
        try encoder.finish(into: &buffer)
        var blocks: [Int: (id: String, name: String, json: String)] = [:]
        var open: Int?
        for event in events(from: buffer) {
            let data = try WireJSON.decode(JSONValue.self, from: event.data)
            guard case .number(let position)? = data["index"] else { continue }
            let index = Int(position)
            switch event.event {
            case "content_block_start":
                #expect(open == nil, "a block starts only after the one before it stopped")
                open = index
                blocks[index] = (data["content_block"]?["id"]?.stringValue ?? "", data["content_block"]?["name"]?.stringValue ?? "", "")
            case "content_block_delta":
                #expect(open == index)
                blocks[index]?.json += data["delta"]?["partial_json"]?.stringValue ?? ""
            case "content_block_stop":
                #expect(open == index)
                open = nil
            default: break
            }
        }
        #expect(blocks.count == 2)
        #expect(blocks[0]?.id == "call_a" && blocks[0]?.name == "get_weather" && blocks[0]?.json == #"{"city":"Paris"}"#)
        #expect(blocks[1]?.id == "call_b" && blocks[1]?.name == "get_time" && blocks[1]?.json == #"{"zone":"CET"}"#)
    }

    @Test func canonicalChunksBecomeAnthropicEventsAndBack() throws {
        var encoder = AnthropicStreamEncoder(model: "client-model")
        var buffer = ByteBuffer()
        for chunk in Self.chunks { try encoder.encode(chunk, into: &buffer) }
        try encoder.finish(into: &buffer)
        let events = events(from: buffer)
        #expect(events.map { $0.event ?? "" } == [
            "message_start",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop",
        ])
        let delta = try WireJSON.decode(JSONValue.self, from: events[9].data)
        #expect(delta["delta"]?["stop_reason"] == .string("tool_use"))
        #expect(delta["usage"]?["output_tokens"] == .number(3))
        #expect(try WireJSON.decode(JSONValue.self, from: events[0].data)["message"]?["model"] == .string("client-model"))
        // An OpenAI id gets Anthropic's `msg_` prefix, as a non-streamed answer's does.
        #expect(try WireJSON.decode(JSONValue.self, from: events[0].data)["message"]?["id"] == .string("msg_c1"))

        // And back: the Anthropic decoder reproduces text, tool call and usage.
        var decoder = AnthropicStreamDecoder()
        var text = ""
        var arguments = ""
        var finish: FinishReason?
        var finished = false
        for event in events {
            switch try decoder.decode(event) {
            case .chunk(let chunk):
                text += chunk.choices.first?.content ?? ""
                arguments += chunk.choices.first?.toolCalls.first?.arguments ?? ""
                finish = chunk.choices.first?.finishReason ?? finish
            case .skip: break
            case .finished: finished = true
            }
        }
        #expect(text == "Hello")
        #expect(arguments == "{\"a\":1}")
        #expect(finish == .toolCalls)
        #expect(finished)
        #expect(decoder.usageChunk.usage?.outputTokens == 3)
        #expect(decoder.usageChunk.usage?.inputTokens == 7)
    }

    @Test func openAIChunkRoundTrip() throws {
        for chunk in Self.chunks {
            let text = String(buffer: try WireJSON.encode(OpenAIChatChunk(chunk)))
            let decoded = try WireJSON.decode(OpenAIChatChunk.self, from: text).chunk
            #expect(decoded == chunk)
        }
    }

    /// The hand-written chunk writer says what `Codable` says: the same document (`JSONEncoder`'s key order
    /// is not stable, so compared as JSON values), for text
    /// that needs escaping, tool calls with and without ids and names, every finish reason, usage with
    /// and without details, and a fingerprint.
    @Test func theChunkWriterWritesWhatCodableWrites() throws {
        var chunks = Self.chunks
        chunks.append(ChatChunk(id: "c\"2", model: "m/1", created: 1_733_000_000, choices: [
            .init(index: 0, role: .assistant, content: "quote \" backslash \\ newline \n tab \t bell \u{07} backspace \u{08} feed \u{0C} é ✓ 🙂 </script>"),
            .init(index: 1, toolCalls: [.init(index: 0, id: "call_2", name: nil, arguments: nil), .init(index: 1, name: "g")]),
        ], usage: Usage(inputTokens: 10, outputTokens: 2, cacheReadTokens: 4, reasoningTokens: 1), systemFingerprint: "fp_1"))
        for reason in [FinishReason.stop, .length, .toolCalls, .contentFilter] {
            chunks.append(ChatChunk(id: "c3", model: "m", created: 2, choices: [.init(finishReason: reason)]))
        }
        for chunk in chunks {
            let codable = String(buffer: try WireJSON.encode(OpenAIChatChunk(chunk)))
            var written = ByteBuffer()
            OpenAIChatChunk.write(chunk, into: &written)
            #expect(try WireJSON.decode(JSONValue.self, from: String(buffer: written)) == WireJSON.decode(JSONValue.self, from: codable))
            #expect(try WireJSON.decode(OpenAIChatChunk.self, from: String(buffer: written)).chunk == chunk)
        }
    }

    /// What the Anthropic decoder reads from events it used to decode through `JSONValue`: cache usage,
    /// a text block's opening text, events without a `type` member (named by the SSE event), nulls where
    /// objects are expected, and unknown events.
    @Test func theAnthropicDecoderReadsEveryEventShape() throws {
        var decoder = AnthropicStreamDecoder()
        func decode(_ data: String, event: String? = nil) throws -> AnthropicStreamDecoder.Action {
            try decoder.decode(ServerSentEvent(event: event, data: data))
        }
        guard case .chunk(let start) = try decode(#"{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":1}}}"#) else {
            Issue.record("message_start gives a chunk"); return
        }
        #expect(start.id == "msg_1" && start.model == "claude" && start.choices.first?.role == .assistant)
        guard case .chunk(let opening) = try decode(#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}"#) else {
            Issue.record("a text block's opening text is forwarded"); return
        }
        #expect(opening.choices.first?.content == "Hi")
        guard case .chunk(let named) = try decode(#"{"index":0,"delta":{"type":"text_delta","text":"\u00e9\n"}}"#, event: "content_block_delta") else {
            Issue.record("an event without a type member is read by its SSE name"); return
        }
        #expect(named.choices.first?.content == "é\n")
        guard case .skip = try decode(#"{"type":"content_block_start","index":1,"content_block":null}"#) else {
            Issue.record("a null block is skipped"); return
        }
        guard case .skip = try decode(#"{"type":"ping"}"#) else { Issue.record("ping is skipped"); return }
        guard case .skip = try decode(#"{"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#) else {
            Issue.record("arguments for a block that never started are skipped"); return
        }
        guard case .chunk(let stop) = try decode(#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":42}}"#) else {
            Issue.record("message_delta gives the finish reason"); return
        }
        #expect(stop.choices.first?.finishReason == .length)
        #expect(decoder.usageChunk.usage == Usage(inputTokens: 125, outputTokens: 42, cacheReadTokens: 100, cacheCreationTokens: 20))
        #expect(throws: (any Error).self) { try decode("not json") }
    }

    @Test func anthropicErrorEventMakesDecoderThrow() {
        var decoder = AnthropicStreamDecoder()
        #expect(throws: AnthropicStreamDecoder.StreamError.self) {
            _ = try decoder.decode(ServerSentEvent(event: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#))
        }
    }
}
