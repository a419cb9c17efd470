import ArchwayConfig
import ArchwayOTLP
import ArchwayCore
import ArchwayPolicy
import ArchwayPrometheus
import ArchwayRouting
import ArchwayTelemetry
import ArchwayWire
import Benchmark
import Logging
import Metrics
import OTel
import Tracing
import NIOCore

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .instructions, .mallocCountTotal, .throughput],
        warmupIterations: 10,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 10_000,
        // `make bench-micro-check` compares each p90 with the committed Thresholds/, so its tolerances are the
        // p90 ones (p50 is for comparing baselines). Allocations get an absolute 2: the harness's own count
        // is 16 or 18 a sample, and a relative one would flag that on small counts.
        thresholds: [
            .mallocCountTotal: .init(relative: [.p50: 5], absolute: [.p90: 2]),
            .instructions: .init(relative: [.p50: 10, .p90: 10]),
        ]
    )

    // The policy stage's scan of a typical 4 KB request: one pass over the text, every built-in entity.
    Benchmark("PII scan of a 4 KB request") { benchmark in
        let scanner = try PIIScanner()
        let text = Fixtures.supportTicket
        for _ in benchmark.scaledIterations {
            blackHole(scanner.scan(text))
        }
    }

    Benchmark("Injection score of a 4 KB request") { benchmark in
        let scorer = InjectionScorer()
        let text = Fixtures.supportTicket
        for _ in benchmark.scaledIterations {
            blackHole(scorer.score(text))
        }
    }

    Benchmark("Consistency score of two answers") { benchmark in
        let answer = String(Fixtures.supportTicket.prefix(600))
        let reference = String(Fixtures.supportTicket.dropFirst(100).prefix(600))
        for _ in benchmark.scaledIterations {
            blackHole(AnswerSimilarity.score(answer, reference))
        }
    }

    Benchmark("Decode a typical chat request") { benchmark in
        let body = ByteBuffer(string: Fixtures.chatRequest)
        for _ in benchmark.scaledIterations {
            blackHole(try WireJSON.decodeRequest(OpenAIChatRequest.self, from: body))
        }
    }

    Benchmark("Decode a plain chat request") { benchmark in
        let body = ByteBuffer(string: Fixtures.plainChatRequest)
        for _ in benchmark.scaledIterations {
            blackHole(try OpenAIChatRequest.decode(from: body))
        }
    }

    Benchmark("Decode a plain chat request with Codable") { benchmark in
        let body = ByteBuffer(string: Fixtures.plainChatRequest)
        for _ in benchmark.scaledIterations {
            blackHole(try WireJSON.decodeRequest(OpenAIChatRequest.self, from: body))
        }
    }

    Benchmark("Relay a chat completion OpenAI to OpenAI") { benchmark in
        let request = WireBytes(bytes: ByteBuffer(string: Fixtures.plainChatRequest))
        let answer = ByteBuffer(string: Fixtures.chatCompletion)
        for _ in benchmark.scaledIterations {
            blackHole(try OpenAIPassthrough.upstreamBody(request, model: "gpt-4o-mini-2024-07-18", stream: false))
            let response = try OpenAIPassthrough.response(answer)
            var output = ByteBuffer()
            OpenAIPassthrough.write(response.wire!, model: "client-model", into: &output)
            blackHole(output)
        }
    }

    Benchmark("Relay a 500-chunk stream OpenAI to OpenAI") { benchmark in
        let stream = ByteBuffer(string: Fixtures.openAIStream(chunks: 500))
        for _ in benchmark.scaledIterations {
            var parser = SSEParser()
            parser.append(stream)
            var output = ByteBuffer()
            while let event = parser.nextRawEvent() {
                guard !event.data.readableBytesView.elementsEqual("[DONE]".utf8) else { break }
                let chunk = try OpenAIPassthrough.chunk(event.data)
                output.writeStaticString("data: ")
                OpenAIPassthrough.write(chunk.wire!, model: "client-model", into: &output)
                output.writeStaticString("\n\n")
            }
            blackHole(output)
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
                try encoder.encode(OpenAIPassthrough.chunk(ByteBuffer(string: event.data)).value, into: &output)
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
                    OpenAIChatChunk.writeEvent(chunk, into: &output)
                }
            }
            blackHole(output)
        }
    }

    // The policy is made once, in `Fixtures`: the closure runs once per sample, and building the catalog
    // here counted its set-up (each entry's span names) in every sample.
    Benchmark("Routing decision over 10 candidates") { benchmark in
        let policy = Fixtures.tenModelPolicy
        let now = ContinuousClock.now
        for iteration in benchmark.scaledIterations {
            blackHole(try policy.plan(for: RoutingRequest(model: "model-\(iteration % 10)"), now: now))
        }
    }

    // Nothing at all: what package-benchmark itself allocates and takes per sample, to subtract from the
    // counts below (they include it; `--allocation-stacks` counts without it).
    Benchmark("Nothing, the harness's own share") { benchmark in
        for iteration in benchmark.scaledIterations {
            blackHole(iteration)
        }
    }

    // What a request records on its path with full telemetry, as `archway serve` sets it up: its three
    // spans (SERVER, the GenAI CLIENT span, the HTTP attempt) through `OTLPTracer` into the exporter's
    // queue, and the call's metrics into both registries (swift-otel's OTLP metrics and /metrics).
    // (The telemetry is made once, in `Fixtures`: the closure runs once per sample, and making it here
    // would measure its set-up, handle creation included, every time.)
    Benchmark("Record a request's spans and metrics") { benchmark in
        let (telemetry, exporter) = Fixtures.production
        for _ in benchmark.scaledIterations {
            Fixtures.recordRequest(telemetry, outcome: Fixtures.outcome)
        }
        Fixtures.emptyNowAndThen(exporter)
    }

    // Its parts: the three spans alone (the metrics' handles looked up, recording into a no-op factory), and
    // the call's metrics alone into the two registries.
    Benchmark("Record a request's spans") { benchmark in
        let (telemetry, exporter) = Fixtures.spansOnly
        for _ in benchmark.scaledIterations {
            Fixtures.recordRequest(telemetry, outcome: Fixtures.outcome)
        }
        Fixtures.emptyNowAndThen(exporter)
    }

    Benchmark("Record a call's metrics") { benchmark in
        let (telemetry, _) = Fixtures.production
        for _ in benchmark.scaledIterations {
            telemetry.recordMetrics(Fixtures.outcome)
        }
    }

    // What the process metrics cost every 5 s: getrusage, /proc/self/statm and /stat, listing /proc/self/fd.
    Benchmark("Read the process's statistics") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(ProcessStatistics.current())
        }
    }

    // The same, and the spans' share of the export: encoded as an OTLP/HTTP protobuf request body (off the
    // event loops in the gateway, but on the same cores).
    Benchmark("Record and encode a request's spans and metrics") { benchmark in
        let (telemetry, exporter) = Fixtures.production
        for _ in benchmark.scaledIterations {
            Fixtures.recordRequest(telemetry, outcome: Fixtures.outcome)
            blackHole(exporter.takeExportBody())
        }
    }
}

enum Fixtures {
    /// Telemetry as `archway serve` sets it up: spans through `OTLPTracer`, metrics into swift-otel's OTLP
    /// registry and /metrics.
    static let production: (GenAITelemetry, OTLPSpanExporter) = {
        let exporter = benchmarkExporter()
        let otlpMetrics = try! OTel.makeMetricsBackend(configuration: .default)
        let metrics = MultiplexMetricsHandler(factories: [otlpMetrics.factory, PrometheusExposition()])
        return (GenAITelemetry(tracer: OTLPTracer(exporter: exporter), metrics: metrics), exporter)
    }()

    /// The same spans, metrics into a no-op factory.
    static let spansOnly: (GenAITelemetry, OTLPSpanExporter) = {
        let exporter = benchmarkExporter()
        return (GenAITelemetry(tracer: OTLPTracer(exporter: exporter), metrics: NOOPMetricsHandler.instance), exporter)
    }()

    /// Recordings since the queue was last emptied (benchmarks run one at a time).
    nonisolated(unsafe) static var recordedSinceEmptied = 0

    /// Empties the exporter's queue every 5,000 recordings, so memory stays flat; the rare sample that
    /// does it shows in p99 and above only.
    static func emptyNowAndThen(_ exporter: OTLPSpanExporter) {
        recordedSinceEmptied += 1
        if recordedSinceEmptied >= 5_000 {
            recordedSinceEmptied = 0
            blackHole(exporter.takeExportBody())
        }
    }

    /// A queue that never fills during a run (recording is measured, not dropping); emptied now and then.
    static func benchmarkExporter() -> OTLPSpanExporter {
        OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces", maxQueueSize: .max), diagnostics: Logger(label: "bench"))
    }

    static let outcome: AttemptOutcome = {
        var outcome = AttemptOutcome(target: Fixtures.target, streamed: false)
        outcome.responseID = "chatcmpl-1"
        outcome.responseModel = "gpt-4o-mini"
        outcome.finishReasons = [.stop]
        outcome.usage = Usage(inputTokens: 120, outputTokens: 48)
        outcome.duration = .milliseconds(800)
        outcome.costUSD = 0.0001
        outcome.httpAttempts = 1
        return outcome
    }()

    static let request = ChatRequest(model: "fast", messages: [.text(.user, "hi")], temperature: 0.2, maxTokens: 100)

    /// The spans and metrics of one request, as the gateway records them.
    static func recordRequest(_ telemetry: GenAITelemetry, outcome: AttemptOutcome) {
        let tracer = telemetry.tracer
        let server = tracer.startSpan("POST /v1/chat/completions", context: .topLevel, ofKind: .server)
        server.setInitialAttributes(capacity: 8) { attributes in
            attributes.set(GenAIAttributes.httpRequestMethod, "POST")
            attributes.set(GenAIAttributes.urlPath, "/v1/chat/completions")
            attributes.set(GenAIAttributes.urlScheme, "http")
            attributes.set(GenAIAttributes.httpRoute, "/v1/chat/completions")
        }
        let call = telemetry.startModelCall(Fixtures.target, chat: request, context: server.context)
        let attempt = tracer.startSpan("POST", context: call.context, ofKind: .client)
        attempt.setInitialAttributes(capacity: 8) { attributes in
            attributes.set(GenAIAttributes.httpRequestMethod, "POST")
            attributes.set(GenAIAttributes.serverAddress, "api.openai.com")
            attributes.set(GenAIAttributes.serverPort, 443)
            attributes.set(GenAIAttributes.urlFull, "https://api.openai.com/v1/chat/completions")
        }
        attempt.modifyAttributes { $0.set(GenAIAttributes.httpResponseStatusCode, 200) }
        attempt.end()
        telemetry.finish(call, outcome: outcome)
        server.modifyAttributes { $0.set(GenAIAttributes.httpResponseStatusCode, 200) }
        server.end()
    }

    /// About 4 KB of an ordinary support conversation: a few personal values among order ids, prices,
    /// dates, versions and part numbers.
    static let supportTicket: String = {
        let paragraph = """
        Hello team, I am writing about order 123456789 placed on 2024-03-15 for 2 units of part PN-4411-22-A at $1,299.99 each. \
        The invoice INV-2024-000123 lists version 10.0.19045 of the firmware, but the device reports 1.2.3 after the update. \
        Please reach me at ada.lovelace@example.com or +44 20 7946 0958 between 9:30 and 17:00. \
        The shipment went to 48.8566, 2.3522 instead of the warehouse. The courier's tracking page also showed an error. \
        Could you check whether the payment with card 4111 1111 1111 1111 was charged twice? \
        My colleague said the previous ticket (#88231) was closed without an answer, which was frustrating. Thanks a lot.

        """
        var text = ""
        while text.utf8.count < 4_000 { text += paragraph }
        return text
    }()

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

    /// What most clients send: a system prompt, a question and two sampling parameters (`make bench`'s body).
    static let plainChatRequest = #"""
    {"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant. Answer in one sentence."},{"role":"user","content":"In one sentence, what does an API gateway in front of an LLM provider do?"}],"temperature":0.2,"max_tokens":64}
    """#

    static let chatCompletion = #"""
    {"id":"chatcmpl-bench","object":"chat.completion","created":1732000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"An API gateway in front of an LLM provider routes, secures, meters and observes every model call.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":38,"completion_tokens":21,"total_tokens":59,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default","system_fingerprint":"fp_bench"}
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

    static let tenModelPolicy = DirectRoutingPolicy(catalog: ModelCatalog(configuration: tenModels), requestTimeout: .seconds(60))

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
