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

    @Test func anthropicErrorEventMakesDecoderThrow() {
        var decoder = AnthropicStreamDecoder()
        #expect(throws: AnthropicStreamDecoder.StreamError.self) {
            _ = try decoder.decode(ServerSentEvent(event: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#))
        }
    }
}
