import ArchwayConfig
import ArchwayGateway
import ArchwayPrometheus
import ArchwaySimulator
import ArchwayTelemetry
import Hummingbird
import HummingbirdTesting
import InMemoryTracing
import Logging
import MetricsTestKit
import NIOCore
import CoreMetrics

/// A gateway in front of an embedded simulator, with in-memory telemetry.
struct GatewayTestHarness {
    let tracer = InMemoryTracer()
    let metrics = TestMetrics()
    var configuration: GatewayConfiguration

    init(yaml: String = Self.defaultYAML) throws {
        configuration = try ConfigurationLoader(environment: [:]).load(yaml: yaml)
    }

    static let defaultYAML = """
    listen: 127.0.0.1:0
    server: {max_body_bytes: 2048}
    upstream: {first_byte_timeout: 2s, max_retries: 0}
    providers:
      sim:
        kind: simulator
        simulator: {latency: 1ms, time_to_first_token: 1ms, tokens_per_second: 5000}
      broken:
        kind: simulator
        simulator: {latency: 1ms, error_rate: 1, error_status: 503}
    models:
      sim-small:
        provider: sim
        model: sim-small-upstream
        price: {input: 1.0, output: 2.0}
      broken-model:
        provider: broken
    """

    func run(prometheus: PrometheusExposition? = nil, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let telemetry = GenAITelemetry(tracer: tracer, metrics: prometheus.map { $0 as any MetricsFactory } ?? metrics, captureContent: configuration.telemetry.captureContent)
        var testLogger = Logger(label: "test")
        testLogger.logLevel = .warning
        let logger = testLogger
        let application = Gateway.makeApplication(
            configuration: configuration,
            telemetry: telemetry,
            prometheus: prometheus,
            embeddedProviders: { provider, onListening in
                Simulator.makeApplication(host: "127.0.0.1", port: 0, settings: provider.simulator, logger: logger) { channel in
                    await onListening(channel.localAddress?.port ?? 0)
                }
            },
            logger: logger
        )
        try await application.test(.live) { client in try await test(client) }
    }

    /// Spans end after the response body is written; give the server a moment to finish them.
    func finishedSpans(count: Int) async throws -> [FinishedInMemorySpan] {
        for _ in 0..<200 {
            let spans = tracer.finishedSpans
            if spans.count >= count { return spans }
            try await Task.sleep(for: .milliseconds(10))
        }
        return tracer.finishedSpans
    }
}
