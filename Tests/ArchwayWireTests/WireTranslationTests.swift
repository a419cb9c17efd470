import ArchwayCore
import ArchwayWire
import Foundation
import NIOCore
import Testing

@Suite struct WireTranslationTests {
    func json(_ value: some Encodable) throws -> JSONValue {
        try WireJSON.decode(JSONValue.self, from: String(buffer: WireJSON.encode(value)))
    }

    @Test func openAIRequestToCanonicalAndBack() throws {
        let body = """
        {"model":"gpt-4o-mini","messages":[
          {"role":"system","content":"Be brief."},
          {"role":"user","content":[{"type":"text","text":"Weather?"}]},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
          {"role":"tool","tool_call_id":"call_1","content":"rainy"}],
         "temperature":0.2,"top_p":0.9,"max_tokens":64,"stop":"END","seed":7,"n":1,
         "stream":true,"stream_options":{"include_usage":true},
         "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
         "tool_choice":"auto","response_format":{"type":"json_object"},"logprobs":true}
        """
        let request = try WireJSON.decodeRequest(OpenAIChatRequest.self, from: ByteBuffer(string: body)).request
        #expect(request.messages.count == 4)
        #expect(request.messages[1].text == "Weather?")
        #expect(request.messages[2].toolCalls == [ToolCall(id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}")])
        #expect(request.messages[3].toolCallID == "call_1")
        #expect(request.stop == ["END"])
        #expect(request.includeUsage)
        #expect(request.outputType == "json")
        #expect(request.extra["logprobs"] == .bool(true))

        let encoded = try json(OpenAIChatRequest(request))
        #expect(encoded["logprobs"] == .bool(true))
        #expect(encoded["stream_options"]?["include_usage"] == .bool(true))
        #expect(encoded["messages"]?.arrayValue?[2]["tool_calls"]?.arrayValue?[0]["function"]?["name"] == .string("get_weather"))
        #expect(encoded["messages"]?.arrayValue?[2]["content"] == .null)
    }

    /// OpenAI's reasoning models refuse `max_tokens`: a cap the client named `max_completion_tokens` goes
    /// out under that name, and OpenAI's own API always gets it so (the gateway's probes included).
    @Test func theOutputCapKeepsTheNameTheProviderNeeds() throws {
        let completion = try WireJSON.decode(OpenAIChatRequest.self, from: #"{"model":"o3","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":50}"#).request
        #expect(completion.maxTokens == 50 && completion.maxTokensIsCompletion)
        #expect(try json(OpenAIChatRequest(completion))["max_completion_tokens"] == .number(50))
        #expect(try json(OpenAIChatRequest(completion))["max_tokens"] == nil)
        let classic = try WireJSON.decode(OpenAIChatRequest.self, from: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":7}"#).request
        #expect(try json(OpenAIChatRequest(classic))["max_tokens"] == .number(7))
        #expect(try json(OpenAIChatRequest(classic, completionTokens: true))["max_completion_tokens"] == .number(7))
        #expect(try json(OpenAIChatRequest(classic, completionTokens: true))["max_tokens"] == nil)
    }

    @Test func canonicalToAnthropicLiftsSystemAndMapsTools() throws {
        let request = ChatRequest(
            model: "claude",
            messages: [
                .text(.system, "Be brief."),
                .text(.user, "Weather?"),
                ChatMessage(role: .assistant, toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}")]),
                ChatMessage(role: .tool, content: [.text("rainy")], toolCallID: "toolu_1"),
            ],
            stop: ["END"],
            tools: [ToolDefinition(name: "get_weather", description: "w", parameters: .object(["type": .string("object")]))],
            toolChoice: .required
        )
        let encoded = try json(AnthropicMessagesRequest(request))
        #expect(encoded["system"] == .string("Be brief."))
        #expect(encoded["max_tokens"] == .number(Double(AnthropicMessagesRequest.defaultMaxTokens)))
        #expect(encoded["stop_sequences"] == .array([.string("END")]))
        #expect(encoded["tool_choice"]?["type"] == .string("any"))
        #expect(encoded["tools"]?.arrayValue?[0]["input_schema"]?["type"] == .string("object"))
        let messages = try #require(encoded["messages"]?.arrayValue)
        #expect(messages.count == 3)
        #expect(messages[0]["content"] == .string("Weather?"))
        #expect(messages[1]["content"]?.arrayValue?[0]["type"] == .string("tool_use"))
        #expect(messages[1]["content"]?.arrayValue?[0]["input"]?["city"] == .string("Paris"))
        #expect(messages[2]["role"] == .string("user"))
        #expect(messages[2]["content"]?.arrayValue?[0]["type"] == .string("tool_result"))
        #expect(messages[2]["content"]?.arrayValue?[0]["tool_use_id"] == .string("toolu_1"))
    }

    /// OpenAI's `content: ""` beside tool calls means no text (an SDK's accumulated stream gives it); Anthropic
    /// refuses an empty text block, so none is sent. A failed tool result keeps its flag on Anthropic's wire
    /// and says so in its text on OpenAI's, which has none.
    @Test func emptyTextBesideToolCallsIsNoBlockAndToolErrorsAreSaid() throws {
        var failed = ChatMessage(role: .tool, content: [.text("timeout")], toolCallID: "toolu_1")
        failed.isToolError = true
        let request = ChatRequest(model: "claude", messages: [
            .text(.user, "Weather?"),
            ChatMessage(role: .assistant, content: [.text("")], toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", arguments: "{}")]),
            failed,
        ])
        let encoded = try json(AnthropicMessagesRequest(request))
        let messages = try #require(encoded["messages"]?.arrayValue)
        #expect(messages[1]["content"]?.arrayValue?.map { $0["type"] } == [.string("tool_use")])
        #expect(messages[2]["content"]?.arrayValue?[0]["is_error"] == .bool(true))
        let openAI = try json(OpenAIChatRequest(request))
        #expect(openAI["messages"]?.arrayValue?[2]["content"] == .string("Error: timeout"))
        // Read back from Anthropic's wire, the flag is kept.
        let body = #"{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"boom","is_error":true}]}]}"#
        let decoded = try WireJSON.decode(AnthropicMessagesRequest.self, from: body).request
        #expect(decoded.messages.first?.isToolError == true)
    }

    /// Custom tools, their calls and `allowed_tools` survive a decode and an encode on the OpenAI wire.
    @Test func customToolsRoundTripOnTheOpenAIWire() throws {
        let body = #"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"custom","custom":{"name":"code_exec","input":"print(1)"}}]}],"tools":[{"type":"custom","custom":{"name":"code_exec","format":{"type":"text"}}}],"tool_choice":{"type":"custom","custom":{"name":"code_exec"}}}"#
        let request = try WireJSON.decode(OpenAIChatRequest.self, from: body).request
        #expect(request.messages.first?.toolCalls.first?.isCustom == true)
        #expect(request.tools?.first?.builtIn?.wire == .openAI)
        let encoded = try json(OpenAIChatRequest(request))
        #expect(encoded["tools"]?.arrayValue?.first == .object(["type": .string("custom"), "custom": .object(["name": .string("code_exec"), "format": .object(["type": .string("text")])])]))
        #expect(encoded["tool_choice"]?["custom"]?["name"] == .string("code_exec"))
        #expect(encoded["messages"]?.arrayValue?.first?["tool_calls"]?.arrayValue?.first?["custom"]?["input"] == .string("print(1)"))
    }

    /// `parallel_tool_calls: false` travels inside Anthropic's `tool_choice`, which carries it even when
    /// the OpenAI request named no choice; `none` keeps its documented shape.
    @Test(arguments: [
        (ToolChoice?.none, #"{"disable_parallel_tool_use":true,"type":"auto"}"#),
        (ToolChoice.required, #"{"disable_parallel_tool_use":true,"type":"any"}"#),
        (ToolChoice.none, #"{"type":"none"}"#),
    ] as [(ToolChoice?, String)])
    func oneToolCallAtATimeTravelsInsideTheToolChoice(choice: ToolChoice?, expected: String) throws {
        var request = ChatRequest(model: "claude", messages: [.text(.user, "Weather?")])
        request.tools = [ToolDefinition(name: "get_weather", description: "w", parameters: .object(["type": .string("object")]))]
        request.toolChoice = choice
        request.parallelToolCalls = false
        #expect(try json(AnthropicMessagesRequest(request))["tool_choice"] == WireJSON.decode(JSONValue.self, from: expected))
        request.tools = nil
        request.toolChoice = nil
        #expect(try json(AnthropicMessagesRequest(request))["tool_choice"] == nil)
    }

    /// Anthropic has no `response_format`: asking for JSON becomes an instruction, the schema included.
    @Test func aJSONResponseFormatBecomesAnInstructionForAnthropic() throws {
        var request = ChatRequest(model: "claude", messages: [.text(.system, "Be brief."), .text(.user, "Facts?")])
        request.responseFormat = .object(["type": .string("json_schema"), "json_schema": .object(["name": .string("facts"), "schema": .object(["type": .string("object")])])])
        let system = try #require(try json(AnthropicMessagesRequest(request))["system"]?.stringValue)
        #expect(system.hasPrefix("Be brief.\n\nAnswer with a single JSON object"))
        #expect(system.contains(#"It must match this JSON schema: {"type":"object"}"#))
        request.responseFormat = .object(["type": .string("json_object")])
        request.messages = [.text(.user, "Facts?")]
        #expect(try json(AnthropicMessagesRequest(request))["system"]?.stringValue?.hasPrefix("Answer with a single JSON object") == true)
        request.responseFormat = .object(["type": .string("text")])
        #expect(try json(AnthropicMessagesRequest(request))["system"] == nil)
    }

    @Test func anthropicRequestToCanonical() throws {
        let body = """
        {"model":"m","max_tokens":100,"system":[{"type":"text","text":"S"}],"stream":true,
         "messages":[{"role":"user","content":"hi"},
                     {"role":"assistant","content":[{"type":"text","text":"t"},{"type":"tool_use","id":"tu","name":"f","input":{"x":1}}]},
                     {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu","content":"ok"},{"type":"text","text":"next"}]}],
         "stop_sequences":["X"],"temperature":0.5,"metadata":{"user_id":"u1"}}
        """
        let request = try WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: ByteBuffer(string: body)).request
        #expect(request.messages.map(\.role) == [.system, .user, .assistant, .tool, .user])
        #expect(request.messages[0].text == "S")
        #expect(request.messages[2].toolCalls.first?.arguments == "{\"x\":1}")
        #expect(request.messages[3].toolCallID == "tu")
        #expect(request.maxTokens == 100)
        #expect(request.stream)
        #expect(request.stop == ["X"])
        #expect(request.user == "u1")
    }

    /// An image a tool returned survives a translated Anthropic request: kept as its block, written back.
    @Test func aToolResultsImageIsKeptForAnAnthropicProvider() throws {
        let image = #"{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}"#
        let body = """
        {"model":"m","max_tokens":100,"messages":[{"role":"user","content":"look"},
         {"role":"assistant","content":[{"type":"tool_use","id":"tu","name":"shot","input":{}}]},
         {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu","content":[{"type":"text","text":"here"},\(image)]}]}]}
        """
        let request = try WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: ByteBuffer(string: body)).request
        #expect(request.messages[2].role == .tool && request.messages[2].content.count == 2)
        let encoded = try WireJSON.decode(JSONValue.self, from: String(buffer: try WireJSON.encode(AnthropicMessagesRequest(request))))
        let result = encoded["messages"]?.arrayValue?[2]["content"]?.arrayValue?[0]
        #expect(result?["type"] == .string("tool_result"))
        #expect(result?["content"]?.arrayValue?.count == 2)
        #expect(result?["content"]?.arrayValue?[1]["source"]?["data"] == .string("iVBORw0KGgo="))
    }

    @Test func responsesRoundTripBetweenWires() throws {
        let anthropicBody = """
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello"},
         {"type":"tool_use","id":"tu","name":"f","input":{"a":"b"}}],"stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":4}}
        """
        let response = try WireJSON.decode(AnthropicMessagesResponse.self, from: anthropicBody).response
        #expect(response.choices[0].message.text == "Hello")
        #expect(response.choices[0].finishReason == .toolCalls)
        #expect(response.usage == Usage(inputTokens: 14, outputTokens: 5, cacheReadTokens: 4))
        let openAI = try json(OpenAIChatResponse(response))
        #expect(openAI["object"] == .string("chat.completion"))
        #expect(openAI["choices"]?.arrayValue?[0]["finish_reason"] == .string("tool_calls"))
        #expect(openAI["usage"]?["prompt_tokens"] == .number(14))
        #expect(openAI["usage"]?["prompt_tokens_details"]?["cached_tokens"] == .number(4))
        let back = try json(AnthropicMessagesResponse(response))
        #expect(back["usage"]?["input_tokens"] == .number(10))
        #expect(back["stop_reason"] == .string("tool_use"))
    }

    /// Which stop sequence ended an Anthropic answer survives its decoding (a policy decodes it); the
    /// OpenAI wire, which cannot say which, reads `stop`.
    @Test func aStopSequenceSurvivesAnAnthropicAnswersDecoding() throws {
        let body = """
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"1, 2"}],
         "stop_reason":"stop_sequence","stop_sequence":"\\n3","usage":{"input_tokens":10,"output_tokens":5}}
        """
        let response = try WireJSON.decode(AnthropicMessagesResponse.self, from: body).response
        #expect(response.choices[0].finishReason == .stop)
        #expect(response.choices[0].stopSequence == "\n3")
        let back = try json(AnthropicMessagesResponse(response))
        #expect(back["stop_reason"] == .string("stop_sequence"))
        #expect(back["stop_sequence"] == .string("\n3"))
        #expect(try json(OpenAIChatResponse(response))["choices"]?.arrayValue?[0]["finish_reason"] == .string("stop"))
        var ended = response
        ended.choices[0].stopSequence = nil
        let plain = try json(AnthropicMessagesResponse(ended))
        #expect(plain["stop_reason"] == .string("end_turn"))
        #expect(plain["stop_sequence"] == .null)
        // An answer with no text has no text block (Anthropic refuses an empty one in a history sent back).
        var empty = response
        empty.choices[0].message.content = [.text("")]
        #expect(try json(AnthropicMessagesResponse(empty))["content"] == .array([]))
    }

    @Test(arguments: [
        (#"{"messages":[]}"#, "model"),
        (#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#, "messages[0].role"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, "temperature"),
        (#"{"model":"m","messages":[]}"#, "messages"),
        (#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#, "messages[0].tool_call_id"),
    ])
    func invalidRequestsNameTheField(body: String, field: String) {
        #expect {
            _ = try WireJSON.decodeRequest(OpenAIChatRequest.self, from: ByteBuffer(string: body))
        } throws: { error in
            let error = error as? GatewayError
            return error?.status == .badRequest && error?.param == field && error?.message.contains(field) == true
        }
    }

    @Test func malformedJSONIsInvalidJSON() {
        #expect {
            _ = try WireJSON.decodeRequest(OpenAIChatRequest.self, from: ByteBuffer(string: "{not json"))
        } throws: { error in
            (error as? GatewayError)?.code == "invalid_json"
        }
    }
}
