import Foundation
import ArchwayCore
import ArchwayTelemetry
import InMemoryTracing
import MetricsTestKit
import Testing
import Tracing

@Suite struct GenAITelemetryTests {
    /// The model call target of these tests and `ModelCallMetricHandlesTests`.
    static let target = ModelCallTarget(
        operation: .chat,
        providerName: "openai",
        providerKey: "main",
        clientModel: "fast",
        upstreamModel: "gpt-4o-mini",
        serverAddress: "api.example.com",
        serverPort: 443
    )
    var target: ModelCallTarget { Self.target }

    func request() -> ChatRequest {
        ChatRequest(model: "fast", messages: [.text(.system, "Be brief."), .text(.user, "Hi")], stream: true, temperature: 0.3, maxTokens: 50, stop: ["X"], seed: 1)
    }

    func outcome(error: GatewayError? = nil) -> AttemptOutcome {
        var outcome = AttemptOutcome(target: target, streamed: true)
        outcome.responseID = "chatcmpl-1"
        outcome.responseModel = "gpt-4o-mini-2024"
        outcome.finishReasons = [.stop]
        outcome.usage = Usage(inputTokens: 12, outputTokens: 30, cacheReadTokens: 2)
        outcome.duration = .milliseconds(1500)
        outcome.timeToFirstChunk = .milliseconds(300)
        outcome.outputChunks = 5
        outcome.costUSD = 0.001
        outcome.error = error
        outcome.httpAttempts = 2
        return outcome
    }

    @Test func spanCarriesGenAIAttributes() throws {
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(tracer: tracer, metrics: metrics)
        let span = telemetry.startModelCall(target, chat: request(), context: .topLevel)
        telemetry.finish(span, outcome: outcome())
        let finished = try #require(tracer.finishedSpans.first)
        #expect(finished.operationName == "chat gpt-4o-mini")
        #expect(finished.kind == .client)
        let attributes = finished.attributes
        #expect(attributes["gen_ai.operation.name"]?.toSpanAttribute() == .string("chat"))
        #expect(attributes["gen_ai.provider.name"]?.toSpanAttribute() == .string("openai"))
        #expect(attributes["gen_ai.request.model"]?.toSpanAttribute() == .string("gpt-4o-mini"))
        #expect(attributes["gen_ai.response.model"]?.toSpanAttribute() == .string("gpt-4o-mini-2024"))
        #expect(attributes["gen_ai.response.id"]?.toSpanAttribute() == .string("chatcmpl-1"))
        #expect(attributes["gen_ai.response.finish_reasons"]?.toSpanAttribute() == .stringArray(["stop"]))
        #expect(attributes["gen_ai.usage.input_tokens"]?.toSpanAttribute() == .int64(12))
        #expect(attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute() == .int64(30))
        #expect(attributes["gen_ai.usage.cache_read.input_tokens"]?.toSpanAttribute() == .int64(2))
        #expect(attributes["gen_ai.request.temperature"]?.toSpanAttribute() == .double(0.3))
        #expect(attributes["gen_ai.request.max_tokens"]?.toSpanAttribute() == .int64(50))
        #expect(attributes["gen_ai.request.stop_sequences"]?.toSpanAttribute() == .stringArray(["X"]))
        #expect(attributes["gen_ai.request.stream"]?.toSpanAttribute() == .bool(true))
        #expect(attributes["server.address"]?.toSpanAttribute() == .string("api.example.com"))
        #expect(attributes["server.port"]?.toSpanAttribute() == .int64(443))
        #expect(attributes["archway.cost.usd"]?.toSpanAttribute() == .double(0.001))
        #expect(attributes["archway.model"]?.toSpanAttribute() == .string("fast"))
        #expect(attributes["gen_ai.input.messages"] == nil, "content is opt-in")
        #expect(finished.status == nil)
    }

    /// With a PII policy, its masking covers the request values every span carries (stop sequences, the
    /// conversation id), content captured or not; a provider's error, which may quote the request, reaches
    /// the status only with content captured (and masked).
    @Test func requestValuesOnEverySpanAreMaskedAndProviderWordsAreContent() throws {
        let mask: @Sendable (String) -> String = { $0.replacingOccurrences(of: "ada@example.com", with: "[[EMAIL]]") }
        var request = request()
        request.stop = ["ada@example.com"]
        request.extra = ["metadata": .object(["conversation_id": .string("conv ada@example.com")])]
        let failure = GatewayError.upstreamStatus(400, provider: "main", excerpt: "Invalid value: 'ZEBRA ada@example.com'")
        for capture in [false, true] {
            let tracer = InMemoryTracer()
            let telemetry = GenAITelemetry(tracer: tracer, metrics: TestMetrics(), captureContent: capture, contentFilter: mask)
            let span = telemetry.startModelCall(target, chat: request, context: .topLevel)
            telemetry.finish(span, outcome: outcome(error: failure))
            let finished = try #require(tracer.finishedSpans.first)
            #expect(finished.attributes["gen_ai.request.stop_sequences"]?.toSpanAttribute() == .stringArray(["[[EMAIL]]"]))
            #expect(finished.attributes["gen_ai.conversation.id"]?.toSpanAttribute() == .string("conv [[EMAIL]]"))
            let status = try #require(finished.status?.message)
            #expect(!status.contains("ada@example.com"))
            #expect(status.contains("ZEBRA") == capture, "\(status)")
            #expect(status.hasPrefix("Upstream provider 'main' answered HTTP 400"))
        }
    }

    @Test func failureSetsErrorTypeAndStatus() throws {
        let tracer = InMemoryTracer()
        let telemetry = GenAITelemetry(tracer: tracer, metrics: TestMetrics())
        let span = telemetry.startModelCall(target, chat: request(), context: .topLevel)
        telemetry.finish(span, outcome: outcome(error: .upstreamStatus(503, provider: "main", excerpt: nil)))
        let finished = try #require(tracer.finishedSpans.first)
        #expect(finished.status?.code == .error)
        #expect(finished.attributes["error.type"]?.toSpanAttribute() == .string("503"))
    }

    @Test func stableMetricSet() throws {
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: metrics)
        telemetry.recordMetrics(outcome())
        let duration = try #require(metrics.recorders(label: "gen_ai.client.operation.duration").first)
        #expect(duration.lastValue == 1.5)
        #expect(duration.dimensions.contains { $0 == ("unit", "s") })
        #expect(duration.dimensions.contains { $0 == ("gen_ai.provider.name", "openai") })
        let tokens = metrics.recorders(label: "gen_ai.client.token.usage")
        #expect(Set(tokens.compactMap { $0.dimensions.first { $0.0 == "gen_ai.token.type" }?.1 }) == ["input", "output"])
        #expect(tokens.flatMap(\.values).sorted() == [12, 30])
        #expect(abs((metrics.recorders(label: "gen_ai.client.operation.time_to_first_chunk").first?.lastValue ?? 0) - 0.3) < 1e-9)
        // Recorded chunk by chunk as a stream goes (`timePerOutputChunk`), never as one average at its end.
        #expect(metrics.recorders(label: "gen_ai.client.operation.time_per_output_chunk").isEmpty)
        #expect(metrics.counterTotal(label: "archway.upstream.retries") == 1)
    }

    @Test func latestExperimentalMetricSet() throws {
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(
            tracer: InMemoryTracer(),
            metrics: metrics,
            metricSet: GenAIMetricSet(environment: ["OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental"])
        )
        telemetry.recordMetrics(outcome())
        #expect(metrics.recorders(label: "gen_ai.client.inference.duration").first?.lastValue == 1.5)
        #expect(metrics.recorders(label: "gen_ai.client.token.usage").isEmpty)
        #expect(metrics.counterTotal(label: "gen_ai.client.inference.usage.input_tokens") == 12)
        #expect(metrics.counterTotal(label: "gen_ai.client.inference.usage.output_tokens") == 30)
        #expect(metrics.counterTotal(label: "gen_ai.client.inference.usage.cache_read.input_tokens") == 2)
        #expect(metrics.recorders(label: "gen_ai.client.inference.operation.output_tokens").first?.lastValue == 30)

        // A failed call without usage records 0 tokens of the `unknown` modality, with its error.type.
        let failedMetrics = TestMetrics()
        let failing = GenAITelemetry(tracer: InMemoryTracer(), metrics: failedMetrics, metricSet: GenAIMetricSet(version: .latestExperimental))
        var failed = outcome(error: .upstreamStatus(503, provider: "main", excerpt: nil))
        failed.usage = nil
        failing.recordMetrics(failed)
        let input = try #require(failedMetrics.recorders(label: "gen_ai.client.inference.operation.input_tokens").first)
        #expect(input.lastValue == 0 && input.dimensions.contains { $0 == ("error.type", "503") })
        let counter = try #require(failedMetrics.counters.first { $0.label == "gen_ai.client.inference.usage.input_tokens" })
        #expect(counter.dimensions.contains { $0 == ("gen_ai.token.modality", "unknown") })

        // Embeddings have metrics of their own there, and no output tokens.
        let embeddingMetrics = TestMetrics()
        let embedding = GenAITelemetry(tracer: InMemoryTracer(), metrics: embeddingMetrics, metricSet: GenAIMetricSet(version: .latestExperimental))
        var embedded = outcome()
        embedded.target.operation = .embeddings
        embedding.recordMetrics(embedded)
        #expect(embeddingMetrics.recorders(label: "gen_ai.client.embeddings.duration").first?.lastValue == 1.5)
        #expect(embeddingMetrics.recorders(label: "gen_ai.client.embeddings.operation.input_tokens").first?.lastValue == 12)
        #expect(embeddingMetrics.recorders(label: "gen_ai.client.inference.duration").isEmpty)
        #expect(embeddingMetrics.recorders(label: "gen_ai.client.inference.operation.output_tokens").isEmpty)
    }

    @Test func contentCaptureFollowsThePartsStructure() throws {
        let tracer = InMemoryTracer()
        let telemetry = GenAITelemetry(tracer: tracer, metrics: TestMetrics(), captureContent: true)
        // A provider that takes the system prompt apart (Anthropic's `system`): system instructions.
        let span = telemetry.startModelCall(target, chat: request(), context: .topLevel, systemApart: true)
        let output = ChatResponse(id: "r", model: "m", created: 0, choices: [.init(index: 0, message: .text(.assistant, "Hello!"), finishReason: .stop)], usage: nil)
        telemetry.finish(span, outcome: outcome(), output: output)
        let attributes = try #require(tracer.finishedSpans.first).attributes
        #expect(attributes["gen_ai.input.messages"]?.toSpanAttribute() == .string(#"[{"parts":[{"content":"Hi","type":"text"}],"role":"user"}]"#))
        #expect(attributes["gen_ai.system_instructions"]?.toSpanAttribute() == .string(#"[{"content":"Be brief.","type":"text"}]"#))
        #expect(attributes["gen_ai.output.messages"]?.toSpanAttribute() == .string(#"[{"finish_reason":"stop","parts":[{"content":"Hello!","type":"text"}],"role":"assistant"}]"#))

        // On the OpenAI wire they are part of the history: in order, with their role (developer too).
        var history = request()
        history.messages = [ChatMessage(role: .developer, content: [.text("Answer in French.")]), ChatMessage(role: .user, content: [.text("Hi")]),
                            ChatMessage(role: .system, content: [.text("Now German.")])]
        telemetry.finish(telemetry.startModelCall(target, chat: history, context: .topLevel), outcome: outcome())
        let inHistory = try #require(tracer.finishedSpans.last).attributes
        #expect(inHistory["gen_ai.system_instructions"] == nil)
        #expect(inHistory["gen_ai.input.messages"]?.toSpanAttribute() == .string(
            #"[{"parts":[{"content":"Answer in French.","type":"text"}],"role":"developer"},{"parts":[{"content":"Hi","type":"text"}],"role":"user"},{"parts":[{"content":"Now German.","type":"text"}],"role":"system"}]"#))
    }
}
