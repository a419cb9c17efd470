import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct AnthropicMessagesTests {
    typealias Support = SimulatorTestSupport

    static func body(stream: Bool = false, extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"claude-x","max_tokens":64,"stream":\#(stream),"system":"Be terse.","messages":[{"role":"user","content":"hi"}]\#(extra)}"#)
    }

    static let anthropicHeaders = SimulatorTestSupport.headers(["x-api-key": "k", "anthropic-version": "2023-06-01"])

    @Test func nonStreamedAnswerHasTheAnthropicShape() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/messages", method: .post, headers: Self.anthropicHeaders, body: Self.body()) { response in
                #expect(response.status == .ok)
                let body = try Support.json(response.body)
                #expect(body["type"]?.stringValue == "message")
                #expect(body["role"]?.stringValue == "assistant")
                #expect(body["model"]?.stringValue == "claude-x")
                #expect(body["id"]?.stringValue?.hasPrefix("msg_sim_") == true)
                #expect(body["content"]?[0]?["type"]?.stringValue == "text")
                let text = try #require(body["content"]?[0]?["text"]?.stringValue)
                #expect(!text.isEmpty)
                #expect(body["stop_reason"]?.stringValue == "end_turn")
                #expect((body["usage"]?["input_tokens"]?.number ?? 0) > 0)
                #expect(body["usage"]?["output_tokens"]?.number == Double(text.split(separator: " ").count))
            }
        }
    }

    @Test func streamEventsComeInOrder() async throws {
        try await Support.app().test(.router) { client in
            let whole = try await client.execute(uri: "/v1/messages", method: .post, body: Self.body()) { response in
                try #require(Support.json(response.body)["content"]?[0]?["text"]?.stringValue)
            }
            try await client.execute(uri: "/v1/messages", method: .post, headers: Self.anthropicHeaders, body: Self.body(stream: true)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                let events = Support.events(response.body)
                let names = events.compactMap(\.event)
                #expect(names.first == "message_start")
                #expect(names.dropFirst().first == "content_block_start")
                #expect(Array(names.suffix(3)) == ["content_block_stop", "message_delta", "message_stop"])
                #expect(names.filter { $0 == "content_block_delta" }.count >= 2)
                var text = ""
                for event in events {
                    let payload = try WireJSON.decode(JSONValue.self, from: event.data)
                    #expect(payload["type"]?.stringValue == event.event, "event name must equal data.type")
                    if event.event == "content_block_delta" { text += payload["delta"]?["text"]?.stringValue ?? "" }
                    if event.event == "message_start" {
                        #expect(payload["message"]?["id"]?.stringValue?.hasPrefix("msg_sim_") == true)
                        #expect((payload["message"]?["usage"]?["input_tokens"]?.number ?? 0) > 0)
                    }
                    if event.event == "message_delta" {
                        #expect(payload["delta"]?["stop_reason"]?.stringValue == "end_turn")
                        #expect((payload["usage"]?["output_tokens"]?.number ?? 0) > 0)
                    }
                }
                #expect(text == whole)
            }
        }
    }

    @Test func toolsAreAnsweredWithToolUse() async throws {
        let tools = #","tools":[{"name":"lookup","input_schema":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}]"#
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/messages", method: .post, body: Self.body(extra: tools)) { response in
                let body = try Support.json(response.body)
                #expect(body["stop_reason"]?.stringValue == "tool_use")
                let block = try #require(body["content"]?.arrayValue?.first { $0["type"]?.stringValue == "tool_use" })
                #expect(block["name"]?.stringValue == "lookup")
                #expect(block["id"]?.stringValue?.hasPrefix("toolu_sim_") == true)
                #expect(block["input"] == .object(["q": .string("sim")]))
            }
            try await client.execute(uri: "/v1/messages", method: .post, body: Self.body(stream: true, extra: tools)) { response in
                let events = Support.events(response.body)
                let start = try #require(events.first { $0.event == "content_block_start" })
                #expect(try WireJSON.decode(JSONValue.self, from: start.data)["content_block"]?["type"]?.stringValue == "tool_use")
                var partial = ""
                for event in events where event.event == "content_block_delta" {
                    partial += try WireJSON.decode(JSONValue.self, from: event.data)["delta"]?["partial_json"]?.stringValue ?? ""
                }
                #expect(partial == #"{"q":"sim"}"#)
                let delta = try #require(events.first { $0.event == "message_delta" })
                #expect(try WireJSON.decode(JSONValue.self, from: delta.data)["delta"]?["stop_reason"]?.stringValue == "tool_use")
            }
        }
    }

    @Test func badInputIsA400ReadableByBothSDKs() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/messages", method: .post, body: ByteBuffer(string: #"{"model":"claude-x","max_tokens":64}"#)) { response in
                #expect(response.status == .badRequest)
                let body = try Support.json(response.body)
                #expect(body["type"]?.stringValue == "error")
                #expect(body["error"]?["message"]?.stringValue?.contains("messages") == true)
            }
        }
    }
}
