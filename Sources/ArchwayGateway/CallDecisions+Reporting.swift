import ArchwayExecution
import ArchwayRouting
import ArchwayTelemetry
import HTTPTypes
import Hummingbird
import Tracing

extension CallDecisions {
    /// `x-archway-route`: the route that decided, on answers a route served.
    static let routeHeader = HTTPField.Name("x-archway-route")!

    /// Puts the route's decision on the SERVER span (`archway.route.*`) and the response's headers, so
    /// every choice can be explained from the trace.
    func report(on span: (any Span)?, headers: inout HTTPFields) {
        let record = self.record
        guard let decision = record.decision else { return }
        headers[Self.routeHeader] = decision.route
        guard let span, span.isRecording else { return }
        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.archwayRouteName, decision.route)
            attributes.set(GenAIAttributes.archwayRouteStrategy, decision.strategy.rawValue)
            attributes.set(GenAIAttributes.archwayRouteChosen, record.model)
            attributes.set(GenAIAttributes.archwayRouteReason, record.fallbacks > 0 ? "fallback" : decision.reason.rawValue)
            attributes.set(GenAIAttributes.archwayRouteMinQuality, decision.minQuality)
            attributes.set(GenAIAttributes.archwayRouteCandidates, decision.candidates)
            attributes.set(GenAIAttributes.archwayRouteEstimatedCostUSD, decision.estimatedCostUSD)
            if record.fallbacks > 0 { attributes.set(GenAIAttributes.archwayRouteFallbacks, record.fallbacks) }
            if record.retryBudgetExhausted { attributes.set(GenAIAttributes.archwayRouteRetryBudgetExhausted, true) }
        }
    }
}
