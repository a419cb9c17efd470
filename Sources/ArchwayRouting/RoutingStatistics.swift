public import ArchwayConfig
public import ArchwayTelemetry
import Metrics

/// The live statistics of every configured model, fed by the execution layer's outcome sink, and the
/// ejection rules of the routes that use them.
///
/// A model's ejection follows the strictest route that lists it (fewest consecutive failures, shortest
/// base), and a model is never ejected while it is the last candidate of a route that is not.
public final class RoutingStatistics: OutcomeObserver, Sendable {
    private let stats: [String: EndpointStats]
    /// The strictest ejection rule of the routes that list each model.
    private let rules: [String: EjectionRule]
    private let routesOfModel: [String: [[String]]]
    private let telemetry: GenAITelemetry?
    private let clock: @Sendable () -> ContinuousClock.Instant

    public init(configuration: GatewayConfiguration, telemetry: GenAITelemetry? = nil, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        let origin = clock()
        var stats: [String: EndpointStats] = [:]
        for model in configuration.models {
            stats[model.name] = EndpointStats(model: model.name, origin: origin)
        }
        var rules: [String: EjectionRule] = [:]
        var routesOfModel: [String: [[String]]] = [:]
        for route in configuration.routes {
            for candidate in route.candidates {
                let rule = rules[candidate]
                rules[candidate] = EjectionRule(
                    consecutiveFailures: min(rule?.consecutiveFailures ?? .max, route.ejection.consecutiveFailures),
                    failureRate: min(rule?.failureRate ?? 1, route.ejection.failureRate),
                    minCalls: min(rule?.minCalls ?? .max, route.ejection.minCalls),
                    base: min(rule?.base ?? .seconds(3600), route.ejection.base)
                )
                routesOfModel[candidate, default: []].append(route.candidates)
            }
        }
        self.stats = stats
        self.rules = rules
        self.routesOfModel = routesOfModel
        self.telemetry = telemetry
        self.clock = clock
    }

    public var now: ContinuousClock.Instant { clock() }

    public func stats(for model: String) -> EndpointStats? {
        stats[model]
    }

    /// Models some route could eject, in no particular order.
    public var routedModels: [String] { Array(rules.keys) }

    public func callStarted(_ target: ModelCallTarget) {
        stats[target.model]?.callStarted()
    }

    public func observe(_ outcome: AttemptOutcome) {
        let model = outcome.target.model
        guard let stats = stats[model] else { return }
        let rule = rules[model]
        let now = clock()
        // Decided outside the model's lock: whether to eject looks at the other candidates' state.
        if let cause = stats.record(outcome, at: now, rule: rule), let rule, mayEject(model) {
            stats.eject(at: now, base: rule.base, cause: cause)
            telemetry?.counter(GenAIMetricSet.endpointEjections, unit: "{ejection}", [(GenAIAttributes.archwayModel, model)]).increment()
        }
        if outcome.target.purpose == ModelCallTarget.probePurpose {
            telemetry?.counter(GenAIMetricSet.endpointProbes, unit: "{probe}", [
                (GenAIAttributes.archwayModel, model),
                ("outcome", outcome.error == nil ? "success" : "failure"),
            ]).increment()
        }
    }

    /// Whether ejecting `model` now leaves every route it is in with another candidate that is not ejected.
    private func mayEject(_ model: String) -> Bool {
        let now = clock()
        for candidates in routesOfModel[model] ?? [] {
            let others = candidates.filter { $0 != model && !(stats[$0]?.isEjected(at: now) ?? true) }
            if others.isEmpty { return false }
        }
        return true
    }
}
