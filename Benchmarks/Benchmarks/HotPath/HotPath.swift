import ArchwayConfig
import ArchwayCore
import ArchwayRouting
import ArchwayTelemetry
import ArchwayWire
import Benchmark
import InMemoryTracing
import NIOCore

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .instructions, .mallocCountTotal, .throughput],
        warmupIterations: 10,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 10_000,
        // Regressions beyond these relative changes fail `make bench-micro-check` against the committed baseline.
        thresholds: [
            .mallocCountTotal: .init(relative: [.p50: 5]),
            .instructions: .init(relative: [.p50: 10]),
        ]
    )

    Benchmark("Decode a typical chat request") { benchmark in
        let body = ByteBuffer(string: Fixtures.chatRequest)
        for _ in benchmark.scaledIterations {
            blackHole(try WireJSON.decodeRequest(OpenAIChatRequest.self, from: body))
        }
    }

    Benchmark("Translate a 500-chunk stream OpenAI to Anthropic") { benchmark in
        let stream = ByteBuffer(string: Fixtures.openAIStream(chunks: 500))
        for _ in benchmark.scaledIterations {
            var parser = SSEParser()
            parser.append(stream)
            var encoder = AnthropicStreamEncoder(model: "client-model")
            var output = ByteBuffer()
            while let event = parser.nextEvent() {
                guard event.data != "[DONE]" else { break }
                try encoder.encode(WireJSON.decode(OpenAIChatChunk.self, from: event.data).chunk, into: &output)
            }
            try encoder.finish(into: &output)
            blackHole(output)
        }
    }

    Benchmark("Translate a 500-chunk stream Anthropic to OpenAI") { benchmark in
        let stream = ByteBuffer(string: Fixtures.anthropicStream(chunks: 500))
        for _ in benchmark.scaledIterations {
            var parser = SSEParser()
            parser.append(stream)
            var decoder = AnthropicStreamDecoder()
            var output = ByteBuffer()
            while let event = parser.nextEvent() {
                if case .chunk(let chunk) = try decoder.decode(event) {
                    ServerSentEvent.writeData(try WireJSON.encodeData(OpenAIChatChunk(chunk)), to: &output)
                }
            }
            blackHole(output)
        }
    }

    Benchmark("Routing decision over 10 candidates") { benchmark in
        let policy = DirectRoutingPolicy(catalog: ModelCatalog(configuration: Fixtures.tenModels), requestTimeout: .seconds(60))
        let now = ContinuousClock.now
        for iteration in benchmark.scaledIterations {
            blackHole(try policy.plan(forModel: "model-\(iteration % 10)", now: now))
        }
    }

    Benchmark("Record an attempt's span and metrics") { benchmark in
        let tracer = InMemoryTracer()
        let telemetry = GenAITelemetry(tracer: tracer, metrics: PrometheusExposition())
        let request = ChatRequest(model: "fast", messages: [.text(.user, "hi")], temperature: 0.2, maxTokens: 100)
        var outcome = AttemptOutcome(target: Fixtures.target, streamed: false)
        outcome.responseID = "chatcmpl-1"
        outcome.responseModel = "gpt-4o-mini"
        outcome.finishReasons = [.stop]
        outcome.usage = Usage(inputTokens: 120, outputTokens: 48)
        outcome.duration = .milliseconds(800)
        outcome.costUSD = 0.0001
        outcome.httpAttempts = 1
        for _ in benchmark.scaledIterations {
            let span = telemetry.startModelCall(Fixtures.target, chat: request, context: .topLevel)
            telemetry.finish(span, outcome: outcome)
        }
        tracer.clearAll()
    }
}

enum Fixtures {
    static let chatRequest = #"""
    {"model":"gpt-4o-mini","temperature":0.2,"max_tokens":512,"stream":false,
     "messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and cites sources."},
       {"role":"user","content":"What is the weather like in Paris today, and should I take an umbrella?"},
       {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}]},
       {"role":"tool","tool_call_id":"call_abc","content":"{\"temperature\":14,\"condition\":\"light rain\",\"precipitation_probability\":0.8}"},
       {"role":"user","content":"Thanks. And tomorrow?"}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
       "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}],
     "user":"user-1234"}
    """#

    static func openAIStream(chunks: Int) -> String {
        var text = #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"# + "\n\n"
        for index in 0..<chunks {
            text += #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" word\#(index)"},"finish_reason":null}]}"# + "\n\n"
        }
        text += #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n"
        text += #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":500,"total_tokens":512}}"# + "\n\ndata: [DONE]\n\n"
        return text
    }

    static func anthropicStream(chunks: Int) -> String {
        var text = "event: message_start\ndata: " + #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}"# + "\n\n"
        text += "event: content_block_start\ndata: " + #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"# + "\n\n"
        for index in 0..<chunks {
            text += "event: content_block_delta\ndata: " + #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word\#(index)"}}"# + "\n\n"
        }
        text += "event: content_block_stop\ndata: " + #"{"type":"content_block_stop","index":0}"# + "\n\n"
        text += "event: message_delta\ndata: " + #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":500}}"# + "\n\n"
        text += "event: message_stop\ndata: " + #"{"type":"message_stop"}"# + "\n\n"
        return text
    }

    static let tenModels: GatewayConfiguration = {
        var configuration = GatewayConfiguration()
        configuration.providers["p"] = ProviderConfiguration(name: "p", kind: .openai, baseURL: "https://api.openai.com/v1")
        configuration.models = (0..<10).map { ModelConfiguration(name: "model-\($0)", provider: "p", price: ModelPrice(input: 1, output: 2)) }
        return configuration
    }()

    static let target = ModelCallTarget(
        operation: .chat,
        providerName: "openai",
        providerKey: "p",
        clientModel: "fast",
        upstreamModel: "gpt-4o-mini",
        serverAddress: "api.openai.com",
        serverPort: 443
    )
}
