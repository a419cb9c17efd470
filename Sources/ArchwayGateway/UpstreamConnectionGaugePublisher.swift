import ArchwayProviders
import ArchwayTelemetry
import ServiceLifecycle

/// Publishes each upstream host's pooled connections (active and idle, as the HTTP conventions'
/// `http.client.open_connections`) and the calls waiting for one every `interval`: what shows a pool at
/// `upstream.max_connections_per_host`.
struct UpstreamConnectionGaugePublisher: Service {
    let clients: UpstreamClients
    let telemetry: GenAITelemetry
    var interval: Duration = .seconds(1)

    func run() async throws {
        await repeatUntilGracefulShutdown(every: interval) {
            try? await publish()
        }
    }

    func publish() async throws {
        for (origin, counts) in try await clients.connectionCounts() {
            let server = [(GenAIAttributes.serverAddress, origin.host), (GenAIAttributes.serverPort, String(origin.port))]
            telemetry.gauge(GenAIMetricSet.httpClientOpenConnections, unit: "{connection}", server + [(GenAIAttributes.httpConnectionState, "active")]).record(counts.active)
            telemetry.gauge(GenAIMetricSet.httpClientOpenConnections, unit: "{connection}", server + [(GenAIAttributes.httpConnectionState, "idle")]).record(counts.idle)
            telemetry.gauge(GenAIMetricSet.upstreamWaitingCalls, unit: "{call}", server).record(counts.waiting)
        }
    }
}
