import ArchwayCore
import ArchwayTelemetry
import ArchwayPrometheus
import InMemoryTracing
import Testing

@Suite struct PrometheusExpositionTests {
    @Test(arguments: [
        ("gen_ai.client.operation.duration", "s", false, "gen_ai_client_operation_duration_seconds"),
        ("gen_ai.client.token.usage", "{token}", false, "gen_ai_client_token_usage"),
        ("archway.cost", "USD", true, "archway_cost_USD_total"),
        ("archway.upstream.retries", "{retry}", true, "archway_upstream_retries_total"),
        ("http.server.request.duration", "s", false, "http_server_request_duration_seconds"),
        ("queue.size", "By", false, "queue_size_bytes"),
        ("requests.rate", "1/s", false, "requests_rate_per_second"),
        ("events.total", nil, true, "events_total"),
    ] as [(String, String?, Bool, String)])
    func collectorNamingRules(name: String, unit: String?, counter: Bool, expected: String) {
        #expect(PrometheusNaming.metricName(name, unit: unit, isCounter: counter) == expected)
    }

    @Test func labelKeys() {
        #expect(PrometheusNaming.labelName("gen_ai.request.model") == "gen_ai_request_model")
        #expect(PrometheusNaming.labelName("http.response.status_code") == "http_response_status_code")
        #expect(PrometheusNaming.labelName("9lives") == "key_9lives")
    }

    @Test func exposesTheSameMetricsUnderCollectorNames() {
        let exposition = PrometheusExposition()
        let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: exposition)
        var outcome = AttemptOutcome(
            target: ModelCallTarget(operation: .chat, providerName: "openai", providerKey: "p", clientModel: "fast", upstreamModel: "gpt", serverAddress: "h", serverPort: 443),
            streamed: false
        )
        outcome.duration = .milliseconds(30)
        outcome.usage = Usage(inputTokens: 5, outputTokens: 7)
        outcome.costUSD = 0.25
        telemetry.recordMetrics(outcome)
        var bytes: [UInt8] = []
        exposition.render(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("# TYPE gen_ai_client_operation_duration_seconds histogram"))
        #expect(text.contains(#"gen_ai_client_operation_duration_seconds_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt",server_address="h",server_port="443",le="0.04"} 1"#))
        #expect(text.contains(#"le="81.92""#), "semconv duration buckets")
        #expect(text.contains(#"gen_ai_client_token_usage_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt",server_address="h",server_port="443",gen_ai_token_type="output",le="16.0"} 1"#))
        #expect(text.contains("archway_cost_USD_total{"))
        #expect(!text.contains("unit="), "the unit is a name suffix, not a label")
    }
}
