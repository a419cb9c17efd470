import ArchwayCore
import ArchwayWire
import NIOCore
import Testing

@Suite struct OpenAIPassthroughTests {
    func decode(_ buffer: ByteBuffer) throws -> JSONValue {
        try WireJSON.decode(JSONValue.self, from: String(buffer: buffer))
    }

    @Test func upstreamBodyRewritesOnlyTheModel() throws {
        let body = #"{"model":"my-alias","messages":[{"role":"user","content":"hi \"model\""}],"service_tier":"flex","max_completion_tokens":5}"#
        let out = try OpenAIPassthrough.upstreamBody(WireBytes(bytes: ByteBuffer(string: body)), model: "gpt-4o-mini\"x", stream: false)
        #expect(String(buffer: out) == #"{"model":"gpt-4o-mini\"x","messages":[{"role":"user","content":"hi \"model\""}],"service_tier":"flex","max_completion_tokens":5}"#)
    }

    @Test func streamedUpstreamBodyAlwaysAsksForUsage() throws {
        let without = #"{"model":"a","stream":true,"messages":[]}"#
        let added = try decode(OpenAIPassthrough.upstreamBody(WireBytes(bytes: ByteBuffer(string: without)), model: "b", stream: true))
        #expect(added["stream_options"]?["include_usage"] == .bool(true))
        #expect(added["model"] == .string("b"))
        #expect(added["stream"] == .bool(true))

        let off = #"{"model":"a","stream":true,"stream_options":{"include_usage":false},"messages":[]}"#
        let replaced = try decode(OpenAIPassthrough.upstreamBody(WireBytes(bytes: ByteBuffer(string: off)), model: "b", stream: true))
        #expect(replaced["stream_options"]?["include_usage"] == .bool(true))

        let on = #"{"model":"a","stream":true,"stream_options":{"include_usage":true,"x":1},"messages":[]}"#
        let kept = try OpenAIPassthrough.upstreamBody(WireBytes(bytes: ByteBuffer(string: on)), model: "b", stream: true)
        #expect(String(buffer: kept) == #"{"model":"b","stream":true,"stream_options":{"include_usage":true,"x":1},"messages":[]}"#)
    }

    @Test func readsAResponseAndRelaysItWithTheClientsModel() throws {
        let body = #"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null},"logprobs":null,"finish_reason":"stop"},
                    {"index":1,"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,
                  "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":1}},
         "service_tier":"default","system_fingerprint":"fp_1"}
        """#
        let response = try OpenAIPassthrough.response(ByteBuffer(string: body))
        #expect(response.id == "chatcmpl-1")
        #expect(response.model == "gpt-4o-mini-2024-07-18")
        #expect(response.created == 1_700_000_000)
        #expect(response.finishReasons == [.stop, .toolCalls])
        #expect(response.usage == Usage(inputTokens: 12, outputTokens: 3, cacheReadTokens: 4, reasoningTokens: 1))
        #expect(response.systemFingerprint == "fp_1")

        var out = ByteBuffer()
        OpenAIPassthrough.write(try #require(response.wire), model: "my-alias", into: &out)
        guard case .object(var expected) = try decode(ByteBuffer(string: body)) else {
            Issue.record("the fixture is not an object")
            return
        }
        expected["model"] = .string("my-alias")
        #expect(try decode(out) == .object(expected))
    }

    @Test(arguments: [
        #"{"id":"x","model":"m"}"#,
        #"{"choices":[{"index":0,"finish_reason":"stop"}]}"#,
        #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"}]"#,
        #"<html>bad gateway</html>"#,
    ])
    func rejectsWhatIsNotAChatCompletion(_ body: String) {
        #expect(throws: (any Error).self) { try OpenAIPassthrough.response(ByteBuffer(string: body)) }
    }

    @Test func readsStreamChunks() throws {
        let content = #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel\nlo"},"logprobs":null,"finish_reason":null}],"usage":null}"#
        let chunk = try OpenAIPassthrough.chunk(ByteBuffer(string: content))
        #expect(chunk.id == "c1")
        #expect(chunk.model == "up")
        #expect(chunk.choices == [ChatChunk.Choice(index: 0, role: .assistant, content: "Hel\nlo")])
        #expect(chunk.usage == nil)

        let tool = #"{"id":"c1","model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\""}}]},"finish_reason":null}]}"#
        #expect(try OpenAIPassthrough.chunk(ByteBuffer(string: tool)).choices[0].toolCalls == [ChatChunk.ToolCallDelta(index: 0, id: "call_1", name: "get", arguments: "{\"a\"")])

        let finish = #"{"id":"c1","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#
        #expect(try OpenAIPassthrough.chunk(ByteBuffer(string: finish)).choices[0].finishReason == .length)

        let usage = #"{"id":"c1","model":"up","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#
        let usageChunk = try OpenAIPassthrough.chunk(ByteBuffer(string: usage))
        #expect(usageChunk.usage == Usage(inputTokens: 5, outputTokens: 7))
        #expect(usageChunk.choices.isEmpty)
    }

    /// An event the upstream wrote on several `data:` lines is relayed on one: a line feed in the relayed
    /// data would end its `data:` line early, and the SDK would parse half a chunk.
    @Test func aChunkOnSeveralDataLinesIsRelayedOnOne() throws {
        let data = "{\"id\":\"c1\",\n\"model\":\"up\",\n\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}"
        let chunk = try OpenAIPassthrough.chunk(ByteBuffer(string: data))
        var out = ByteBuffer()
        OpenAIPassthrough.write(try #require(chunk.wire), model: "alias", into: &out)
        #expect(String(buffer: out) == #"{"id":"c1", "model":"alias", "choices":[{"index":0,"delta":{"content":"x"}}]}"#)
    }

    @Test func relaysChunksWithTheClientsModelAndDropsUnaskedUsage() throws {
        let data = #"{"id":"c1","model":"up","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#
        let chunk = try OpenAIPassthrough.chunk(ByteBuffer(string: data))
        var kept = ByteBuffer()
        OpenAIPassthrough.write(try #require(chunk.wire), model: "alias", into: &kept)
        #expect(String(buffer: kept) == #"{"id":"c1","model":"alias","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#)
        var dropped = ByteBuffer()
        OpenAIPassthrough.write(try #require(chunk.wire), model: "alias", droppingUsage: true, into: &dropped)
        #expect(String(buffer: dropped) == #"{"id":"c1","model":"alias","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":null}"#)
    }

    @Test func anErrorEventThrowsItsMessage() throws {
        #expect(throws: OpenAIPassthrough.ErrorEvent.self) {
            try OpenAIPassthrough.chunk(ByteBuffer(string: #"{"error":{"message":"overloaded","type":"server_error"}}"#))
        }
        do {
            _ = try OpenAIPassthrough.chunk(ByteBuffer(string: #"{"error":{"message":"overloaded"}}"#))
        } catch let error as OpenAIPassthrough.ErrorEvent {
            #expect(error.message == "overloaded")
        }
    }
}
