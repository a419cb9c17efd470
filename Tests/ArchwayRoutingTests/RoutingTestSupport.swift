import ArchwayConfig
import ArchwayCore
import ArchwayRouting
import ArchwayTelemetry
import ArchwayTestSupport

/// Three models and routes over them, with statistics on a manual clock.
struct RoutingFixture {
    let configuration: GatewayConfiguration
    let clock = ManualClock()
    let statistics: RoutingStatistics
    let pricing: PricingIndex
    let policy: AdaptiveRoutingPolicy

    init(routes: String, exploration: Double = 0, seed: UInt64 = 1, unixSeconds: Int = 1_796_126_400) throws {
        configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
        providers:
          p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
        models:
          cheap:
            provider: p
            price:
              input: 0.27
              output: 1.10
              schedule:
                - {hours: "16:30-00:30", input: 0.135, output: 0.55}
            quality: 0.78
          mid: {provider: p, price: {input: 2.5, output: 10}, quality: 0.90}
          top: {provider: p, price: {input: 3, output: 15}, quality: 0.93}
        routes:
        \(routes)
        """)
        let clock = self.clock
        statistics = RoutingStatistics(configuration: configuration, clock: { clock.now })
        pricing = PricingIndex(models: configuration.models, unixSeconds: { unixSeconds })
        policy = AdaptiveRoutingPolicy(
            catalog: ModelCatalog(configuration: configuration),
            pricing: pricing,
            statistics: statistics,
            requestTimeout: .seconds(30),
            exploration: exploration,
            seed: seed
        )
    }

    func target(_ model: String) -> ModelCallTarget {
        ModelCallTarget(operation: .chat, providerName: "openai", providerKey: "p", clientModel: "route", model: model, upstreamModel: model, serverAddress: "127.0.0.1", serverPort: 9)
    }

    /// A finished call of `model` taking `duration`, failing with `error` when given.
    func call(_ model: String, duration: Duration = .milliseconds(100), error: GatewayError? = nil, outputTokens: Int = 100) {
        statistics.callStarted(target(model))
        var outcome = AttemptOutcome(target: target(model), streamed: false)
        outcome.duration = duration
        outcome.error = error
        if error == nil { outcome.usage = Usage(inputTokens: 50, outputTokens: outputTokens) }
        statistics.observe(outcome)
    }

    /// A probe of `model` (the gateway's one-token call while it is ejected), failing with `error` when given.
    func probe(_ model: String, error: GatewayError? = nil) {
        var target = target(model)
        target.purpose = ModelCallTarget.probePurpose
        statistics.callStarted(target)
        var outcome = AttemptOutcome(target: target, streamed: false)
        outcome.duration = .milliseconds(5)
        outcome.error = error
        if error == nil { outcome.usage = Usage(inputTokens: 1, outputTokens: 1) }
        statistics.observe(outcome)
    }

    /// A finished stream of `model`: its first chunk after `firstChunk`, its end after `duration`.
    func stream(_ model: String, firstChunk: Duration, duration: Duration) {
        statistics.callStarted(target(model))
        var outcome = AttemptOutcome(target: target(model), streamed: true)
        outcome.duration = duration
        outcome.timeToFirstChunk = firstChunk
        outcome.usage = Usage(inputTokens: 50, outputTokens: 100)
        statistics.observe(outcome)
    }

    func order(_ route: String, stream: Bool = false, inputTokens: Int = 1_000) throws -> (models: [String], decision: RoutingDecision?) {
        let plan = try policy.plan(for: RoutingRequest(model: route, stream: stream, estimatedInputTokens: inputTokens), now: clock.now)
        return (plan.attempts.map(\.model.name), plan.decision)
    }

    static let unavailable = GatewayError.upstreamStatus(503, provider: "p", excerpt: nil)
}
