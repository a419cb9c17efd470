import ArchwayCore
import ArchwayTestSupport
import ArchwayWire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Anthropic client to Anthropic provider: the client's request and the provider's answer travel as
/// bytes, so what Archway does not model (prompt caching, thinking, stop sequences) is not lost.
@Suite struct AnthropicRelayTests {
    static let request = #"""
    {"model":"claude","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":1024},"system":[{"type":"text","text":"You are helpful","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"lookup","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi there","cache_control":{"type":"ephemeral"}}]}]STREAM}
    """#

    static let answer = #"{"id":"msg_1","type":"message","role":"assistant","model":"claude-upstream-2","content":[{"type":"thinking","thinking":"Let me think.","signature":"sig=="},{"type":"text","text":"Hello END"}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":5,"output_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}"#

    static let events = [
        ("message_start", #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-upstream-2","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1,"cache_read_input_tokens":100}}}"#),
        ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#),
        ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think."}}"#),
        ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig=="}}"#),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ("ping", #"{"type":"ping"}"#),
        ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#),
        ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}"#),
        ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
        ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"output_tokens":7}}"#),
        ("message_stop", #"{"type":"message_stop"}"#),
    ]

    static func upstream() -> ScriptedUpstream {
        ScriptedUpstream { received, _ in
            guard received.body.contains(#""stream":true"#) else { return .scriptedJSON(answer) }
            let text = events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined()
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    func harness(_ baseURL: String, policy: String = "", exempt: Bool = false) throws -> GatewayTestHarness {
        try GatewayTestHarness(yaml: """
        listen: 127.0.0.1:0
        upstream: {first_byte_timeout: 2s, max_retries: 0}
        providers:
          claude-provider: {kind: anthropic, base_url: "\(baseURL)/v1", api_key: sk-ant-test}
        models:
          claude: {provider: claude-provider, model: claude-upstream\(exempt ? ", policy: none" : "")}
        \(policy)
        """)
    }

    /// Without a policy, and with one the model is exempt from (`policy: none` leaves it alone).
    @Test(arguments: ["", "policy: {pii: {action: redact}}"])
    func requestAndAnswerKeepWhatArchwayDoesNotModel(policy: String) async throws {
        let upstream = Self.upstream()
        try await upstream.run { baseURL in
            try await harness(baseURL, policy: policy, exempt: !policy.isEmpty).run { client in
                let body = Self.request.replacingOccurrences(of: "STREAM", with: "")
                let beta = HTTPField.Name("anthropic-beta")!
                let response = try await client.execute(
                    uri: "/v1/messages", method: .post,
                    headers: [.contentType: "application/json", beta: "interleaved-thinking-2025-05-14"],
                    body: ByteBuffer(string: body)
                )
                #expect(response.status == .ok)
                // The client's betas go with its bytes.
                #expect(upstream.received.first?.headers[beta] == "interleaved-thinking-2025-05-14")
                let sent = try #require(upstream.received.first?.body)
                // The client's bytes, with the upstream model's name.
                #expect(sent == body.replacingOccurrences(of: #""model":"claude""#, with: #""model":"claude-upstream""#))
                // The provider's bytes, with the client's model name.
                #expect(String(buffer: response.body) == Self.answer.replacingOccurrences(of: #""model":"claude-upstream-2""#, with: #""model":"claude""#))
            }
        }
    }

    @Test func streamEventsAreRelayedAsTheyCame() async throws {
        let upstream = Self.upstream()
        try await upstream.run { baseURL in
            let harness = try harness(baseURL)
            try await harness.run { client in
                let body = Self.request.replacingOccurrences(of: "STREAM", with: #","stream":true"#)
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .ok)
                let expected = Self.events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined()
                    .replacingOccurrences(of: #""model":"claude-upstream-2""#, with: #""model":"claude""#)
                #expect(String(buffer: response.body) == expected)
            }
            // Telemetry still read the stream: usage and finish reason on the GenAI span.
            let spans = try await harness.finishedSpans(count: 3)
            let call = try #require(spans.first { $0.operationName == "chat claude-upstream" })
            #expect(call.attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute() == .int64(7))
            #expect(call.attributes["gen_ai.response.model"]?.toSpanAttribute() == .string("claude-upstream-2"))
        }
    }

    /// An event sent without its `event:` line gets it from its type, and only a plain type: the
    /// upstream's text never writes lines of its own into the client's stream (found by the fuzzer).
    @Test func anEventWithoutItsNameGetsAPlainOne() throws {
        func raw(_ data: String) throws -> SSEParser.RawEvent {
            var parser = SSEParser()
            parser.append(ByteBuffer(string: "data: \(data)\n\n"))
            let event = parser.nextRawEvent()
            return try #require(event)
        }
        let start = AnthropicPassthrough.event(try raw(#"{"type":"message_start","message":{"model":"up"}}"#))
        var out = ByteBuffer()
        OpenAIPassthrough.write(start, model: "claude", into: &out)
        #expect(String(buffer: out) == "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\"}}\n\n")
        let odd = AnthropicPassthrough.event(try raw(#"{"type":"a\nevent: b"}"#))
        #expect(!String(buffer: odd.bytes).hasPrefix("event:"))
    }

    /// An event whose JSON spans several `data:` lines goes out on one, its model renamed like any other.
    @Test func anEventOnSeveralDataLinesIsRenamedOnOne() throws {
        var parser = SSEParser()
        parser.append(ByteBuffer(string: "event: message_start\ndata: {\"type\":\"message_start\",\ndata: \"message\":{\"model\":\ndata: \"up\"}}\n\n"))
        let event = parser.nextRawEvent()
        let start = AnthropicPassthrough.event(try #require(event))
        var out = ByteBuffer()
        OpenAIPassthrough.write(start, model: "claude", into: &out)
        let text = String(buffer: out)
        #expect(text == "event: message_start\ndata: {\"type\":\"message_start\", \"message\":{\"model\": \"claude\"}}\n\n")
        let data = try #require(text.split(separator: "\n").dropFirst().first?.dropFirst(6))
        #expect(try JSONSerialization.jsonObject(with: Data(data.utf8)) is [String: Any])
    }

    /// A policy that may rewrite the request turns the relay off: the request is encoded anew.
    @Test func aPolicyTurnsTheRelayOff() async throws {
        let upstream = Self.upstream()
        try await upstream.run { baseURL in
            try await harness(baseURL, policy: "policy: {pii: {action: redact}}").run { client in
                let body = Self.request.replacingOccurrences(of: "STREAM", with: "")
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .ok)
                let sent = try #require(upstream.received.first?.body)
                #expect(!sent.contains("cache_control"))
            }
        }
    }

    /// Tools Anthropic's API defines itself (web search, bash, the text editor) have a type and no input
    /// schema: relayed as they came, kept when the request is encoded anew (a policy), and refused with a
    /// clear 400 for a model another wire serves. An image from the Files API goes as it came too.
    @Test(arguments: ["", "policy: {pii: {action: redact}}"])
    func anthropicDefinedToolsAndFileImagesReachTheProvider(policy: String) async throws {
        let upstream = Self.upstream()
        let body = #"""
        {"model":"claude","max_tokens":64,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3},{"type":"bash_20250124","name":"bash"},{"type":"mcp_toolset","mcp_server_name":"docs"},{"name":"lookup","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_011"}},{"type":"text","text":"search it"}]}]}
        """#
        try await upstream.run { baseURL in
            try await harness(baseURL, policy: policy).run { client in
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let sent = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(upstream.received.first?.body).utf8))
                let tools = try #require(sent["tools"]?.arrayValue)
                #expect(tools.count == 4)
                #expect(tools.first == .object(["type": .string("web_search_20250305"), "name": .string("web_search"), "max_uses": .number(3)]))
                #expect(tools[1]["type"]?.stringValue == "bash_20250124" && tools[1]["input_schema"] == nil)
                #expect(tools[2]["mcp_server_name"]?.stringValue == "docs")
                #expect(tools[3]["input_schema"] != nil)
                #expect(sent["messages"]?.arrayValue?.first?["content"]?.arrayValue?.first?["source"]?["file_id"]?.stringValue == "file_011")
            }
        }
    }

    @Test func anthropicDefinedToolsAreRefusedForAnOpenAIWireModel() async throws {
        let harness = try GatewayTestHarness()
        try await harness.run { client in
            let body = #"{"model":"sim-small","max_tokens":64,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}"#
            let response = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            let text = String(buffer: response.body)
            #expect(text.contains("web_search_20250305") && text.contains("cannot run it"), "\(text)")
            // An image from the Files API, which the OpenAI wire has no part for: refused, not sent.
            let image = #"{"model":"sim-small","max_tokens":64,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}},{"type":"text","text":"what is it?"}]}]}"#
            let refused = try await client.execute(uri: "/v1/messages", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: image))
            #expect(refused.status == .badRequest && String(buffer: refused.body).contains("'image' block"))
        }
    }
}
