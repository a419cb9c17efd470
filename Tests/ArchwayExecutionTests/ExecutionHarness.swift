import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayProviders
import ArchwayRouting
import ArchwayTelemetry
import ArchwayTestSupport
import InMemoryTracing
import Logging
import MetricsTestKit
import Synchronization
import Tracing

/// Remembers every outcome the sink fans out.
final class OutcomeRecorder: OutcomeObserver {
    private let outcomes = Mutex<[AttemptOutcome]>([])

    var all: [AttemptOutcome] { outcomes.withLock { $0 } }

    func observe(_ outcome: AttemptOutcome) {
        outcomes.withLock { $0.append(outcome) }
    }
}

/// Tries the configured models in a fixed order: the routing seam with a fallback, for these tests.
struct OrderedPolicy: RoutingPolicy {
    let catalog: ModelCatalog
    let order: [String]

    func plan(for request: RoutingRequest, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan {
        guard catalog.entry(named: request.model) != nil else { throw GatewayError.modelNotFound(request.model) }
        return RoutingPlan(attempts: order.compactMap(catalog.entry(named:)), deadline: now + .seconds(5))
    }
}

/// An execution layer over scripted upstreams, with in-memory telemetry and a manual clock.
struct ExecutionHarness {
    let tracer = InMemoryTracer()
    let metrics = TestMetrics()
    let recorder = OutcomeRecorder()
    let clock = ManualClock()
    let configuration: GatewayConfiguration

    /// `primary` and `secondary` are two providers at the given base URLs, with models `a` and `b`.
    init(primary: String, secondary: String? = nil, captureContent: Bool = false) throws {
        var yaml = """
        upstream: {max_retries: 0, first_byte_timeout: 2s}
        telemetry: {capture_content: \(captureContent)}
        providers:
          one: {kind: openai, base_url: "\(primary)/v1", api_key: sk-one-secret}
        """
        if let secondary { yaml += "\n  two: {kind: openai, base_url: \"\(secondary)/v1\"}" }
        yaml += """

        models:
          a: {provider: one, model: a-upstream, price: {input: 1, output: 2}}
        """
        if secondary != nil { yaml += "\n  b: {provider: two, model: b-upstream}" }
        configuration = try ConfigurationLoader(environment: [:]).load(yaml: yaml)
    }

    /// Runs `body` with an executor; `fallback` makes model `a` fall back to `b`.
    func run<Value: Sendable>(
        stages: [any CallStage] = [],
        fallback: Bool = false,
        _ body: @Sendable (ModelCallExecutor) async throws -> Value
    ) async throws -> Value {
        let telemetry = GenAITelemetry(tracer: tracer, metrics: metrics, captureContent: configuration.telemetry.captureContent)
        return try await TestExecutor.with(
            configuration,
            telemetry: telemetry,
            routing: { catalog -> any RoutingPolicy in
                fallback ? OrderedPolicy(catalog: catalog, order: ["a", "b"]) : DirectRoutingPolicy(catalog: catalog, requestTimeout: .seconds(5))
            },
            observers: [recorder],
            stages: StageChain(stages),
            clock: clock,
            body
        )
    }

    var genAISpans: [FinishedInMemorySpan] { tracer.finishedSpans.filter { $0.operationName.hasPrefix("chat ") } }
    var httpSpans: [FinishedInMemorySpan] { tracer.finishedSpans.filter { $0.operationName == "POST" } }
}

enum Canned {
    static let completion = #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"a-upstream-2025","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12},"service_tier":"flex"}"#

    static let events = [
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"a-upstream-2025","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}"#,
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"a-upstream-2025","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"a-upstream-2025","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#,
    ]

    static func request(model: String = "a", stream: Bool = false, text: String = "hi") -> ChatRequest {
        ChatRequest(model: model, messages: [ChatMessage(role: .user, content: [.text(text)])], stream: stream)
    }
}
