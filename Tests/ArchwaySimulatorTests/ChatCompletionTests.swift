import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct ChatCompletionTests {
    typealias Support = SimulatorTestSupport

    @Test func nonStreamedAnswerHasTheOpenAIShape() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody()) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                for name in ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens"] {
                    #expect(response.headers[HTTPField.Name(name)!] != nil, "missing \(name)")
                }
                let body = try Support.json(response.body)
                #expect(body["object"]?.stringValue == "chat.completion")
                #expect(body["model"]?.stringValue == "sim-model")
                #expect(body["id"]?.stringValue?.hasPrefix("chatcmpl-sim-") == true)
                let choice = try #require(body["choices"]?[0])
                #expect(choice["message"]?["role"]?.stringValue == "assistant")
                let content = try #require(choice["message"]?["content"]?.stringValue)
                #expect(!content.isEmpty)
                #expect(choice["finish_reason"]?.stringValue == "stop")
                let words = content.split(separator: " ").count
                #expect(body["usage"]?["completion_tokens"]?.number == Double(words))
                #expect((body["usage"]?["prompt_tokens"]?.number ?? 0) > 0)
                #expect(body["usage"]?["total_tokens"]?.number == (body["usage"]?["prompt_tokens"]?.number ?? 0) + Double(words))
            }
        }
    }

    @Test func sameRequestGivesSameTextAndSeedChangesIt() async throws {
        try await Support.app().test(.router) { client in
            func content(seed: String?) async throws -> String {
                let headers = Support.headers(seed.map { ["x-simulator-seed": $0] } ?? [:])
                return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: Support.chatBody("seeded")) { response in
                    try #require(Support.json(response.body)["choices"]?[0]?["message"]?["content"]?.stringValue)
                }
            }
            let first = try await content(seed: "7")
            let second = try await content(seed: "7")
            #expect(first == second)
            var outputs: Set<String> = []
            for seed in ["1", "2", "3", "4"] { outputs.insert(try await content(seed: seed)) }
            #expect(outputs.count >= 2)
            // Without a header the settings' seed applies, and it is as stable.
            #expect(try await content(seed: nil) == content(seed: nil))
        }
    }

    @Test func differentSettingsSeedsGiveDifferentText() async throws {
        func content(seed: UInt64) async throws -> String {
            var settings = Support.fastSettings
            settings.seed = seed
            return try await Support.app(settings).test(.router) { client in
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody("flag seed")) { response in
                    try #require(Support.json(response.body)["choices"]?[0]?["message"]?["content"]?.stringValue)
                }
            }
        }
        #expect(try await content(seed: 1234) == content(seed: 1234))
        #expect(try await content(seed: 1234) != content(seed: 4321))
    }

    @Test func maxTokensCutsTheAnswerWithLength() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody(extra: #","max_tokens":3"#)) { response in
                let body = try Support.json(response.body)
                #expect(body["choices"]?[0]?["finish_reason"]?.stringValue == "length")
                #expect(body["usage"]?["completion_tokens"]?.number == 3)
            }
        }
    }

    @Test func streamSendsRoleTokensFinishUsageAndDone() async throws {
        let body = Support.chatBody("stream", extra: #","stream":true,"stream_options":{"include_usage":true}"#)
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                let events = Support.events(response.body)
                #expect(events.last?.data == "[DONE]")
                #expect(events.filter { $0.data == "[DONE]" }.count == 1)
                let chunks = try Support.chunks(events)
                #expect(Set(chunks.compactMap { $0["id"]?.stringValue }).count == 1)
                #expect(chunks.allSatisfy { $0["object"]?.stringValue == "chat.completion.chunk" })
                #expect(chunks.first?["choices"]?[0]?["delta"]?["role"]?.stringValue == "assistant")
                let contents = chunks.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.filter { !$0.isEmpty }
                #expect(contents.count >= 2)
                let finishes = chunks.compactMap { $0["choices"]?[0]?["finish_reason"]?.stringValue }
                #expect(finishes == ["stop"])
                let last = try #require(chunks.last)
                #expect(last["choices"]?.arrayValue?.isEmpty == true)
                #expect(last["usage"]?["completion_tokens"]?.number == Double(contents.count))
                #expect(chunks.dropLast().allSatisfy { $0["usage"] == nil })
            }
        }
    }

    @Test func streamedTextEqualsNonStreamedText() async throws {
        try await Support.app().test(.router) { client in
            let whole = try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody("same")) { response in
                try #require(Support.json(response.body)["choices"]?[0]?["message"]?["content"]?.stringValue)
            }
            let streamed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, body: Support.chatBody("same", extra: #","stream":true"#)
            ) { response in
                let chunks = try Support.chunks(Support.events(response.body))
                #expect(chunks.allSatisfy { $0["usage"] == nil }, "no usage chunk without include_usage")
                return chunks.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
            }
            #expect(whole == streamed)
        }
    }

    @Test func pacingFollowsLatencyTimeToFirstTokenAndTokenRate() async throws {
        try await Support.app().test(.router) { client in
            let clock = ContinuousClock()
            var start = clock.now
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: Support.headers(["x-simulator-latency-ms": "40"]), body: Support.chatBody()
            )
            #expect(clock.now - start >= .milliseconds(40))

            let headers = Support.headers(["x-simulator-ttft-ms": "40", "x-simulator-tokens-per-second": "200"])
            start = clock.now
            let tokens = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: headers, body: Support.chatBody(extra: #","stream":true"#)
            ) { response in
                try Support.chunks(Support.events(response.body)).filter { $0["choices"]?[0]?["delta"]?["content"]?.stringValue?.isEmpty == false }.count
            }
            // The first token after 40 ms, then 5 ms between tokens.
            #expect(clock.now - start >= .milliseconds(40) + .milliseconds(5) * (tokens - 1))
        }
    }

    static let tools = #","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"},"note":{"type":"string"}},"required":["city","days","metric"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]"#

    @Test func toolsAreAnsweredWithACallToTheFirstTool() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody("weather?", extra: Self.tools)) { response in
                let choice = try #require(Support.json(response.body)["choices"]?[0])
                #expect(choice["finish_reason"]?.stringValue == "tool_calls")
                let call = try #require(choice["message"]?["tool_calls"]?[0])
                #expect(call["id"]?.stringValue?.hasPrefix("call_sim_") == true)
                #expect(call["type"]?.stringValue == "function")
                #expect(call["function"]?["name"]?.stringValue == "get_weather")
                let arguments = try #require(call["function"]?["arguments"]?.stringValue)
                #expect(arguments == #"{"city":"sim","days":1,"metric":true}"#)
            }
            let named = #","tool_choice":{"type":"function","function":{"name":"get_time"}}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody("time?", extra: Self.tools + named)) { response in
                let call = try #require(Support.json(response.body)["choices"]?[0]?["message"]?["tool_calls"]?[0])
                #expect(call["function"]?["name"]?.stringValue == "get_time")
                #expect(call["function"]?["arguments"]?.stringValue == "{}")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody("no tools", extra: Self.tools + #","tool_choice":"none""#)) { response in
                let choice = try #require(Support.json(response.body)["choices"]?[0])
                #expect(choice["finish_reason"]?.stringValue == "stop")
                #expect(choice["message"]?["tool_calls"] == nil)
            }
        }
    }

    @Test func toolResultTurnGetsATextAnswer() async throws {
        let body = ByteBuffer(string: #"""
            {"model":"sim-model","messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"21C"}]\#(Self.tools)}
            """#)
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { response in
                let choice = try #require(Support.json(response.body)["choices"]?[0])
                #expect(choice["finish_reason"]?.stringValue == "stop")
                #expect(choice["message"]?["tool_calls"] == nil)
                #expect(choice["message"]?["content"]?.stringValue?.isEmpty == false)
            }
        }
    }

    @Test func streamedToolCallArrivesAsDeltas() async throws {
        let body = Support.chatBody("weather?", extra: Self.tools + #","stream":true,"stream_options":{"include_usage":true}"#)
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { response in
                let chunks = try Support.chunks(Support.events(response.body))
                let deltas = chunks.compactMap { $0["choices"]?[0]?["delta"]?["tool_calls"]?[0] }
                #expect(deltas.count == 3)
                #expect(deltas.first?["id"]?.stringValue?.hasPrefix("call_sim_") == true)
                #expect(deltas.first?["function"]?["name"]?.stringValue == "get_weather")
                #expect(deltas.first?["function"]?["arguments"]?.stringValue == "")
                let arguments = deltas.compactMap { $0["function"]?["arguments"]?.stringValue }.joined()
                #expect(arguments == #"{"city":"sim","days":1,"metric":true}"#)
                #expect(chunks.compactMap { $0["choices"]?[0]?["finish_reason"]?.stringValue } == ["tool_calls"])
                #expect((chunks.last?["usage"]?["completion_tokens"]?.number ?? 0) > 0)
            }
        }
    }

    @Test func jsonResponseFormatGivesAJSONObject() async throws {
        let body = Support.chatBody("json please", extra: #","response_format":{"type":"json_object"}"#)
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { response in
                let content = try #require(Support.json(response.body)["choices"]?[0]?["message"]?["content"]?.stringValue)
                let object = try WireJSON.decode(JSONValue.self, from: content)
                #expect(object["answer"]?.stringValue?.isEmpty == false)
            }
        }
    }

    @Test func badInputIsA400InTheOpenAIShape() async throws {
        try await Support.app().test(.router) { client in
            for body in [#"{"model":"m","messages":["#, #"{"model":"m"}"#, #"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#] {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest)
                    let json = try Support.json(response.body)
                    let error = try #require(json["error"])
                    #expect(error["type"]?.stringValue == "invalid_request_error")
                    #expect(error["message"]?.stringValue?.isEmpty == false)
                    #expect(error.objectValue?.keys.contains("param") == true)
                    #expect(error.objectValue?.keys.contains("code") == true)
                }
            }
            let badHeader = Support.headers(["x-simulator-error-rate": "lots"])
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: badHeader, body: Support.chatBody()) { response in
                #expect(response.status == .badRequest)
                let json = try Support.json(response.body)
                #expect(json["error"]?["param"]?.stringValue == "x-simulator-error-rate")
            }
        }
    }

    @Test func modelsAreListed() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .ok)
                let body = try Support.json(response.body)
                #expect(body["object"]?.stringValue == "list")
                let models = try #require(body["data"]?.arrayValue)
                #expect(!models.isEmpty)
                #expect(models.allSatisfy { $0["object"]?.stringValue == "model" && $0["id"]?.stringValue?.isEmpty == false })
            }
        }
    }
}
