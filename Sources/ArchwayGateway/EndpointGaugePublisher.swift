import ArchwayConfig
import ArchwayRouting
import ArchwayTelemetry
import ServiceLifecycle

/// Publishes each configured model's live figures as gauges every `interval`: latency p50/p95, calls
/// in flight, error rate, ejection, and the price in force; and each route's eligible candidates and the
/// quality bar in force (what the routing dashboard plots and the no-eligible-candidate alert watches).
struct EndpointGaugePublisher: Service {
    let models: [String]
    let routes: [RouteConfiguration]
    let policy: AdaptiveRoutingPolicy
    let statistics: RoutingStatistics
    let pricing: PricingIndex
    let telemetry: GenAITelemetry
    var interval: Duration = .seconds(1)

    func run() async throws {
        await repeatUntilGracefulShutdown(every: interval) {
            publish()
        }
    }

    func publish() {
        let now = statistics.now
        for model in models {
            guard let snapshot = statistics.stats(for: model)?.snapshot(at: now) else { continue }
            let labels = [(GenAIAttributes.archwayModel, model)]
            if let p50 = snapshot.latencyP50, let p95 = snapshot.latencyP95 {
                telemetry.gauge(GenAIMetricSet.endpointLatency, unit: "s", labels + [("quantile", "0.5")]).record(p50.seconds)
                telemetry.gauge(GenAIMetricSet.endpointLatency, unit: "s", labels + [("quantile", "0.95")]).record(p95.seconds)
            }
            telemetry.gauge(GenAIMetricSet.endpointInFlight, unit: "{call}", labels).record(snapshot.inFlight)
            telemetry.gauge(GenAIMetricSet.endpointErrorRate, unit: "1", labels).record(snapshot.errorRate)
            telemetry.gauge(GenAIMetricSet.endpointEjected, unit: "1", labels).record(snapshot.ejected ? 1 : 0)
            if let price = pricing.price(for: model) {
                telemetry.gauge(GenAIMetricSet.endpointPrice, unit: "USD", labels + [(GenAIAttributes.tokenType, "input")]).record(price.input)
                telemetry.gauge(GenAIMetricSet.endpointPrice, unit: "USD", labels + [(GenAIAttributes.tokenType, "output")]).record(price.output)
            }
        }
        for route in routes {
            let eligible = route.candidates.filter { policy.ineligibility(of: $0, in: route) == nil }.count
            telemetry.gauge(GenAIMetricSet.routeEligibleCandidates, unit: "{candidate}", [(GenAIAttributes.archwayRouteName, route.name)]).record(eligible)
            if let bar = policy.currentBar(of: route) {
                telemetry.gauge(GenAIMetricSet.routeMinQuality, unit: "1", [(GenAIAttributes.archwayRouteName, route.name)]).record(bar)
            }
        }
    }
}
