public import ArchwayConfig
public import ArchwayCore
public import ArchwayExecution
import ArchwayProviders
public import ArchwayRouting
public import ArchwayTelemetry
import Logging
public import Tracing

/// An execution layer over a configuration's providers (real HTTP adapters, usually pointed at
/// `ScriptedUpstream`s), for the tests of everything that calls models through it.
public enum TestExecutor {
    /// Runs `body` with an executor; the upstream clients shut down after it. Without `routing`, a
    /// configured model name is served by that model (`DirectRoutingPolicy`).
    public static func with<Value: Sendable>(
        _ configuration: GatewayConfiguration,
        telemetry: GenAITelemetry,
        routing: (@Sendable (ModelCatalog) -> any RoutingPolicy)? = nil,
        observers: [any OutcomeObserver] = [],
        stages: StageChain = StageChain(),
        pricing: PricingIndex? = nil,
        sampler: ConsistencySampler? = nil,
        clock: any GatewayClock = SystemClock(),
        _ body: @Sendable (ModelCallExecutor) async throws -> Value
    ) async throws -> Value {
        try await UpstreamClients.with(settings: configuration.upstream) { clients in
            let transport = UpstreamTransport(clients: clients, settings: configuration.upstream, tracer: telemetry.tracer)
            let registry = ProviderRegistry()
            for provider in configuration.providers.values {
                registry.register(HTTPProviderAdapter(provider: provider, transport: transport), for: provider.name)
            }
            let catalog = ModelCatalog(configuration: configuration)
            let executor = ModelCallExecutor(
                routing: routing?(catalog) ?? DirectRoutingPolicy(catalog: catalog, requestTimeout: .seconds(10)),
                providers: registry,
                sink: OutcomeSink(telemetry: telemetry, observers: observers),
                stages: stages,
                pricing: pricing,
                sampler: sampler,
                clock: clock,
                logger: Logger(label: "test")
            )
            return try await body(executor)
        }
    }
}
