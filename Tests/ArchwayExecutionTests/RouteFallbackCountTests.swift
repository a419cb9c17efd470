import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayRouting
import ArchwayTelemetry
import ArchwayTestSupport
import InMemoryTracing
import MetricsTestKit
import Testing

/// `archway.route.fallbacks` counts moves to another model, not failures the call then ended with.
@Suite struct RouteFallbackCountTests {
    @Test func aFailureWithNoModelLeftToTryIsNoFallback() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"down"}}"#, status: .serviceUnavailable) }
        try await upstream.run { baseURL in
            let configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
            upstream: {max_retries: 0}
            providers:
              p: {kind: openai, base_url: "\(baseURL)/v1"}
            models:
              a: {provider: p, model: a-up, quality: 0.9}
              b: {provider: p, model: b-up, quality: 0.9}
            routes:
              r: {strategy: fallback, candidates: [a, b], retries: {max: 2, backoff_ms: 1, on: [5xx]}}
            """)
            let metrics = TestMetrics()
            let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: metrics)
            let statistics = RoutingStatistics(configuration: configuration)
            let pricing = PricingIndex(models: configuration.models)
            try await TestExecutor.with(
                configuration,
                telemetry: telemetry,
                routing: { catalog in
                    AdaptiveRoutingPolicy(catalog: catalog, pricing: pricing, statistics: statistics, consistency: ConsistencyScores(routes: configuration.routes), requestTimeout: .seconds(5), exploration: 0)
                },
                observers: [statistics],
                pricing: pricing
            ) { executor in
                let request = ChatRequest(model: "r", messages: [.text(.user, "hi")])
                await #expect(throws: GatewayError.self) { try await executor.chat(Relayable(request), scope: CallScope(model: "r")) }
            }
            #expect(upstream.received.count == 2, "both models were tried")
            // a failed and the call moved to b: one fallback. b failed with nothing left: none.
            #expect(metrics.counters(label: GenAIMetricSet.routeFallbacks).map(\.totalValue) == [1])
        }
    }
}
