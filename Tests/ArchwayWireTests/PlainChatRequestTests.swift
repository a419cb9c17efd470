import ArchwayCore
@testable import ArchwayWire
import NIOCore
import Testing

/// The scanner-based decoding of plain chat requests must agree with the `Codable` decoder on everything
/// it accepts, and hand everything else to it.
@Suite struct PlainChatRequestTests {
    static let plainBodies: [String] = [
        #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        #"  {"messages":[{"role":"system","content":"Be brief.\nVery."},{"role":"user","content":"caf\u00e9 \"q\"","name":"ann"},{"role":"assistant","content":""},{"role":"developer","content":"x"}],"model":"gpt-4o-mini"} "#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"top_p":0.9,"top_k":40,"max_tokens":64,"seed":-7,"frequency_penalty":0.5,"presence_penalty":-1.5,"n":2,"user":"u1","parallel_tool_calls":false}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"max_completion_tokens":20}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"END"}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b"]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":[]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false,"temperature":2,"top_p":1e-1}"#,
    ]

    static let otherBodies: [String] = [
        // Valid, but beyond plain: the Codable decoder reads these.
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
        #"{"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":"x"}]}"#,
        #"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":null}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":64.0}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true,"x":1}}"#,
        // Numbers JSON does not allow: the decoder rejects them, so the scanner must not accept them.
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1.}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":.5}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":010}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":-}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":1e}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":+1}"#,
        // Invalid: the Codable decoder words the error.
        #"{"model":"","messages":[{"role":"user","content":"hi"}]}"#,
        #"{"model":"m","messages":[]}"#,
        #"{"model":"m"}"#,
        #"{"messages":[{"role":"user","content":"hi"}]}"#,
        #"{"model":"m","messages":[{"role":"robot","content":"hi"}]}"#,
        #"{"model":"m","messages":[{"role":"user"}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":3}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":0}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#,
        #"{"model":"m","model":"n","messages":[{"role":"user","content":"hi"}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}]} trailing"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi"}]"#,
        #"{"model":"m","messages":[{"role":"user","content":"hi",}]}"#,
        #"[{"model":"m"}]"#,
        "",
    ]

    @Test(arguments: plainBodies)
    func agreesWithTheDecoderOnPlainRequests(_ body: String) throws {
        let scanned = try #require(OpenAIChatRequest.scanPlain(ByteBuffer(string: body)))
        let decoded = try WireJSON.decodeRequest(OpenAIChatRequest.self, from: ByteBuffer(string: body)).request
        #expect(scanned == decoded)
    }

    @Test(arguments: otherBodies)
    func leavesEverythingElseToTheDecoder(_ body: String) {
        #expect(OpenAIChatRequest.scanPlain(ByteBuffer(string: body)) == nil)
    }

    @Test func rejectsInvalidUTF8() {
        var body = ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"h"#)
        body.writeBytes([0xC3, 0x28])
        body.writeString(#""}]}"#)
        #expect(OpenAIChatRequest.scanPlain(body) == nil)
    }

    @Test func invalidBodiesStillGetTheDecodersError() {
        #expect(throws: GatewayError.self) {
            try OpenAIChatRequest.decode(from: ByteBuffer(string: #"{"model":"m","messages":[{"role":"robot","content":"hi"}]}"#))
        }
        do {
            _ = try OpenAIChatRequest.decode(from: ByteBuffer(string: #"{"model":"m","messages":[]}"#))
            Issue.record("an empty conversation was accepted")
        } catch {
            #expect(error.param == "messages")
        }
    }
}
