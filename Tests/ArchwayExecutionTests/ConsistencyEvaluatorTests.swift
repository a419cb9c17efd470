import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayProviders
import ArchwayRouting
import ArchwayTelemetry
import ArchwayTestSupport
import Hummingbird
import InMemoryTracing
import Logging
import MetricsTestKit
import Synchronization
import Testing
import Tracing

/// Keeps every event record with the span context it was logged in.
final class EventCapture: Sendable {
    struct Event: Sendable {
        var name: String
        var metadata: Logger.Metadata
        var spanContext: InMemorySpanContext?
    }

    private let events = Mutex<[Event]>([])
    var all: [Event] { events.withLock { $0 } }

    func append(_ event: Event) { events.withLock { $0.append(event) } }

    var logger: Logger {
        Logger(label: "events") { _ in Handler(capture: self) }
    }

    struct Handler: LogHandler {
        let capture: EventCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.append(Event(name: event.message.description, metadata: event.metadata ?? [:], spanContext: ServiceContext.current?.inMemorySpanContext))
        }
    }
}

@Suite struct ConsistencyEvaluatorTests {
    static let reference = "The capital of France is Paris, a city on the Seine."

    static func completion(_ text: String, id: String) -> String {
        #"{"id":"\#(id)","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"\#(text)"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":12,"total_tokens":22}}"#
    }

    /// Answers `reference` as `ref-up`, `candidate` as `a-up`.
    static func upstream(candidate: String) -> ScriptedUpstream {
        ScriptedUpstream { received, index in
            let isReference = received.body.contains("ref-up")
            return .scriptedJSON(completion(isReference ? reference : candidate, id: "chatcmpl-\(isReference ? "ref" : "a")-\(index)"))
        }
    }

    struct Setup {
        let tracer = InMemoryTracer()
        let events = EventCapture()
        let metrics = TestMetrics()
        let configuration: GatewayConfiguration

        init(baseURL: String, queueSize: Int = 128) throws {
            configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
            upstream: {max_retries: 0}
            shadow: {queue_size: \(queueSize)}
            providers:
              p: {kind: openai, base_url: "\(baseURL)/v1"}
            models:
              a: {provider: p, model: a-up, price: {input: 1, output: 1}, quality: 0.9}
              ref: {provider: p, model: ref-up, price: {input: 10, output: 10}, quality: 0.9}
            routes:
              r:
                strategy: cost
                candidates: [a, ref]
                consistency: {reference: ref, sample_rate: 1, window: 4, min_samples: 2, min_score: 0.6}
            """)
        }

        /// Runs `body` with an executor that samples route `r`, its sampler and evaluator.
        func run(_ body: @Sendable (ModelCallExecutor, ConsistencySampler, ConsistencyEvaluator, ConsistencyScores) async throws -> Void) async throws {
            let telemetry = GenAITelemetry(tracer: tracer, metrics: metrics, events: events.logger)
            let statistics = RoutingStatistics(configuration: configuration)
            let scores = ConsistencyScores(routes: configuration.routes)
            let pricing = PricingIndex(models: configuration.models)
            let sampler = ConsistencySampler(routes: configuration.routes, scores: scores, shadow: configuration.shadow, telemetry: telemetry, seed: 7)
            try await TestExecutor.with(
                configuration,
                telemetry: telemetry,
                routing: { catalog in
                    AdaptiveRoutingPolicy(catalog: catalog, pricing: pricing, statistics: statistics, consistency: scores, requestTimeout: .seconds(5), exploration: 0)
                },
                observers: [statistics],
                pricing: pricing,
                sampler: sampler
            ) { executor in
                try await body(executor, sampler, ConsistencyEvaluator(executor: executor, scores: scores, statistics: statistics, logger: Logger(label: "test")), scores)
            }
        }
    }

    @Test func aSampledAnswerIsComparedWithTheReferenceOffTheClientsPathAndTheScoreIsAnEvent() async throws {
        let paraphrase = "Paris, on the river Seine, is the capital city of France."
        try await Self.upstream(candidate: paraphrase).run { baseURL in
            let setup = try Setup(baseURL: baseURL)
            try await setup.run { executor, sampler, evaluator, scores in
                let request = ChatRequest(model: "r", messages: [ChatMessage(role: .user, content: [.text("Capital of France?")])])
                let (answer, context) = try await executor.answer(Relayable(request), scope: CallScope(model: "r"))
                // The client's answer is the candidate's, untouched; the reference was not asked yet.
                #expect(answer.value.model == "a")
                let shadowsSoFar = setup.tracer.finishedSpans.filter { $0.attributes[GenAIAttributes.archwayShadow]?.toSpanAttribute() != nil }
                #expect(shadowsSoFar.isEmpty)

                var samples = sampler.samples.makeAsyncIterator()
                let sample = try #require(await samples.next())
                await evaluator.evaluate(sample)

                let evaluated = try #require(context.inMemorySpanContext)
                let spans = setup.tracer.finishedSpans
                let shadow = try #require(spans.first { $0.attributes[GenAIAttributes.archwayCallPurpose]?.toSpanAttribute() == .string("shadow") })
                #expect(shadow.operationName == "chat ref-up")
                #expect(shadow.attributes[GenAIAttributes.archwayShadow]?.toSpanAttribute() == .bool(true))
                let linked = shadow.links.compactMap { $0.context.inMemorySpanContext }
                #expect(linked == [evaluated])
                #expect(shadow.traceID != evaluated.traceID, "a shadow call is a trace of its own, linked")

                let event = try #require(setup.events.all.first)
                #expect(event.name == "gen_ai.evaluation.result")
                #expect(event.spanContext == evaluated, "parented to the evaluated call's span")
                #expect(event.metadata[GenAIAttributes.evaluationName] == .string("archway.consistency"))
                #expect(event.metadata[GenAIAttributes.evaluationScoreLabel] == .string("consistent"))
                #expect(event.metadata[GenAIAttributes.responseID] == .string("chatcmpl-a-0"))
                let summary = try #require(scores.summary(of: "a", in: "r"))
                #expect(summary.samples == 1 && (summary.mean ?? 0) > 0.6)
            }
        }
    }

    @Test func aModelWhoseAnswersDriftIsLeftOutAndRecheckedUntilItRecovers() async throws {
        let state = Mutex("Photosynthesis turns sunlight and water into sugar.")
        let upstream = ScriptedUpstream { received, index in
            let isReference = received.body.contains("ref-up")
            return .scriptedJSON(Self.completion(isReference ? Self.reference : state.withLock { $0 }, id: "c\(index)"))
        }
        try await upstream.run { baseURL in
            let setup = try Setup(baseURL: baseURL)
            try await setup.run { executor, sampler, evaluator, scores in
                var samples = sampler.samples.makeAsyncIterator()
                let request = ChatRequest(model: "r", messages: [ChatMessage(role: .user, content: [.text("Capital?")])])
                for _ in 0..<2 {
                    let answer = try await executor.chat(Relayable(request), scope: CallScope(model: "r"))
                    #expect(answer.value.model == "a")
                    await evaluator.evaluate(try #require(await samples.next()))
                }
                #expect(!scores.isEligible("a", in: "r"))
                #expect(setup.events.all.allSatisfy { $0.metadata[GenAIAttributes.evaluationScoreLabel] == .string("inconsistent") })
                // Left out: the reference answers now, and `a` is asked afresh beside it.
                state.withLock { $0 = ConsistencyEvaluatorTests.reference }
                for _ in 0..<4 where !scores.isEligible("a", in: "r") {
                    let answer = try await executor.chat(Relayable(request), scope: CallScope(model: "r"))
                    #expect(answer.value.model == "ref")
                    let sample = try #require(await samples.next())
                    #expect(sample.recheck == ["a"] && !sample.compareAnswer)
                    await evaluator.evaluate(sample)
                }
                #expect(scores.isEligible("a", in: "r"))
                #expect(try await executor.chat(Relayable(request), scope: CallScope(model: "r")).value.model == "a")
            }
        }
    }

    @Test func aFullQueueDropsSamplesAndCountsThemWithoutTouchingTheAnswers() async throws {
        try await Self.upstream(candidate: Self.reference).run { baseURL in
            let setup = try Setup(baseURL: baseURL, queueSize: 1)
            try await setup.run { executor, _, _, _ in
                let request = ChatRequest(model: "r", messages: [ChatMessage(role: .user, content: [.text("hi")])])
                for _ in 0..<3 {
                    let answer = try await executor.chat(Relayable(request), scope: CallScope(model: "r"))
                    #expect(answer.value.model == "a")
                }
            }
            // Nobody took from the queue of one: the second and third samples were dropped.
            let dropped = try setup.metrics.expectCounter(GenAIMetricSet.shadowSamples, [
                ("unit", "{sample}"), (GenAIAttributes.archwayRouteName, "r"), ("outcome", "dropped"),
            ])
            #expect(dropped.totalValue == 2)
        }
    }

    /// A reference whose provider asked for quiet (`retry-after`) is not asked for shadow answers until
    /// then, as a route would not call it: the samples are counted `skipped`.
    @Test func aReferenceHeldBackByRetryAfterIsNotCalled() async throws {
        let upstream = ScriptedUpstream { received, index in
            if received.body.contains("ref-up") {
                return .scriptedJSON(#"{"error":{"message":"slow down"}}"#, status: .tooManyRequests, headers: [.retryAfter: "30"])
            }
            return .scriptedJSON(Self.completion(Self.reference, id: "c\(index)"))
        }
        try await upstream.run { baseURL in
            let setup = try Setup(baseURL: baseURL)
            try await setup.run { executor, sampler, evaluator, _ in
                var samples = sampler.samples.makeAsyncIterator()
                let request = ChatRequest(model: "r", messages: [ChatMessage(role: .user, content: [.text("hi")])])
                for _ in 0..<3 {
                    _ = try await executor.chat(Relayable(request), scope: CallScope(model: "r"))
                    await evaluator.evaluate(try #require(await samples.next()))
                }
            }
            #expect(upstream.received.filter { $0.body.contains("ref-up") }.count == 1, "asked once, then held back")
            let skipped = try setup.metrics.expectCounter(GenAIMetricSet.shadowSamples, [
                ("unit", "{sample}"), (GenAIAttributes.archwayRouteName, "r"), ("outcome", "skipped"),
            ])
            #expect(skipped.totalValue == 2)
        }
    }
}
