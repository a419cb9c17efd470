public import ArchwayConfig
import ArchwayCore
import ArchwayExecution
public import ArchwayPrometheus
import ArchwayProviders
import ArchwayPolicy
import ArchwayRouting
import ArchwayWorkflows
public import ArchwayTelemetry
public import Hummingbird
import HummingbirdCore
public import Logging
public import NIOCore
public import ServiceLifecycle

/// Starts a provider the gateway embeds (a `kind: simulator` provider without `base_url`) and reports
/// the loopback port it listens on. The executable passes the built-in simulator; the gateway itself
/// links no provider server.
public typealias EmbeddedProviderFactory = @Sendable (
    _ provider: ProviderConfiguration,
    _ onListening: @escaping @Sendable (_ port: Int) async -> Void
) -> any Service

/// Composes the gateway from a validated configuration: the upstream clients, provider adapters,
/// routing, the execution layer, telemetry and the HTTP routes, as one Hummingbird application.
public enum Gateway {
    /// Builds the application. It is a ServiceLifecycle `Service`: run it in a `ServiceGroup` (with the
    /// OpenTelemetry service, in the executable) or under HummingbirdTesting.
    ///
    /// - Parameters:
    ///   - prometheus: when given, `GET /metrics` serves it (the same metrics as OTLP, collector-style names).
    ///   - embeddedProviders: starts each embedded provider; required when the configuration has one.
    ///   - connections: the open client connections, for a shutdown that cuts what is still running.
    ///   - onServerRunning: called with the listening channel (tests use it to learn the port).
    public static func makeApplication(
        configuration: GatewayConfiguration,
        telemetry: GenAITelemetry,
        prometheus: PrometheusExposition? = nil,
        embeddedProviders: EmbeddedProviderFactory? = nil,
        connections: ClientConnections? = nil,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let clients = UpstreamClients(settings: configuration.upstream)
        let transport = UpstreamTransport(clients: clients, settings: configuration.upstream, tracer: telemetry.tracer)
        let embedded = configuration.providers.values.filter(\.isEmbedded)
        let state = GatewayState(pendingProviders: embedded.count, startedAt: currentUnixSeconds())
        let registry = ProviderRegistry()
        for provider in configuration.providers.values where !provider.isEmbedded {
            registry.register(HTTPProviderAdapter(provider: provider, transport: transport), for: provider.name)
        }
        var services: [any Service] = [HTTPClientService(clients: clients, state: state)]
        for provider in embedded {
            guard let embeddedProviders else {
                logger.error("provider '\(provider.name)' is an embedded simulator, but this gateway was built without one; its models answer 503")
                continue
            }
            // An embedded provider listens on an ephemeral loopback port; its adapter is registered once it does.
            services.append(embeddedProviders(provider) { port in
                registry.register(HTTPProviderAdapter(provider: provider, transport: transport, baseURL: "http://127.0.0.1:\(port)/v1"), for: provider.name)
                state.providerReady()
            })
        }
        if embeddedProviders == nil {
            for _ in embedded { state.providerReady() }
        }

        let catalog = ModelCatalog(configuration: configuration)
        let pricing = PricingIndex(models: configuration.models)
        let statistics = RoutingStatistics(configuration: configuration, telemetry: telemetry)
        let consistency = ConsistencyScores(routes: configuration.routes)
        let policy = AdaptiveRoutingPolicy(
            catalog: catalog,
            pricing: pricing,
            statistics: statistics,
            consistency: consistency,
            requestTimeout: configuration.upstream.requestTimeout
        )
        let sampler = ConsistencySampler(routes: configuration.routes, scores: consistency, shadow: configuration.shadow, telemetry: telemetry)
        let executor = ModelCallExecutor(
            routing: policy,
            providers: registry,
            sink: OutcomeSink(telemetry: telemetry, observers: [statistics]),
            stages: Self.stages(configuration, telemetry: telemetry, logger: logger),
            pricing: pricing,
            sampler: sampler.isActive ? sampler : nil,
            logger: logger
        )
        if sampler.isActive {
            services.append(ShadowSampleService(
                sampler: sampler,
                evaluator: ConsistencyEvaluator(executor: executor, scores: consistency, statistics: statistics, logger: logger),
                maxConcurrency: configuration.shadow.maxConcurrency
            ))
        }
        let loader = ConfigurationLoader(environment: [:])
        if !configuration.routes.isEmpty {
            services.append(ProbeService(statistics: statistics, executor: executor))
        }
        services.append(UpstreamConnectionGaugePublisher(clients: clients, telemetry: telemetry))
        services.append(ProcessMetricsPublisher(telemetry: telemetry))
        services.append(EndpointGaugePublisher(
            models: catalog.names,
            routes: configuration.routes,
            policy: policy,
            statistics: statistics,
            pricing: pricing,
            telemetry: telemetry
        ))
        if let file = configuration.pricing.file {
            services.append(PricingFileWatcher(path: file, pricing: pricing, knownModels: Set(catalog.names), loader: loader, logger: logger))
        }
        // HEAD of a GET route is its answer without the body (load balancers and uptime checks probe with it).
        let router = Router(context: GatewayRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ServerSpanMiddleware(tracer: telemetry.tracer, telemetry: telemetry))
        router.add(middleware: OpenAIErrorMiddleware())
        if let key = configuration.server.masterKey {
            router.add(middleware: MasterKeyMiddleware(key: key))
        }
        // Served with no workflow configured too: a run of an unknown one is `workflow_not_found`.
        let workflows = WorkflowRoutes(runner: WorkflowRunner(executor: executor), workflows: configuration.workflows)
        GatewayRoutes(
            executor: executor,
            catalog: catalog,
            maxBodyBytes: configuration.server.maxBodyBytes,
            state: state,
            workflows: workflows
        ).register(on: router)
        AdminRoutes(
            catalog: catalog,
            pricing: pricing,
            statistics: statistics,
            policy: policy,
            loader: loader,
            maxBodyBytes: configuration.server.maxBodyBytes,
            logger: logger
        ).register(on: router)
        if let prometheus {
            router.get("/metrics") { _, _ in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(16 * 1024)
                prometheus.render(into: &bytes)
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
                )
            }
        }

        router.answerUnservedMethods()
        let responder = router.buildResponder()
        let ingress = IngressChannel(
            responder: responder, maxBodyBytes: configuration.server.maxBodyBytes, serverName: "archway",
            timeouts: IngressHandler.Timeouts(idle: TimeAmount(configuration.server.idleTimeout), read: TimeAmount(configuration.server.readTimeout)),
            connections: connections, logger: logger
        ) { method, error in
            // Answered at once, with no route: counted (and classed) beside the routed requests.
            telemetry.httpServerDuration(method: method, route: nil, status: Int(error.status.code), errorType: error.shortDescription).record(0)
        }
        var application = Application(
            responder: responder,
            // Archway's ingress (`IngressChannel`) serves the router; Hummingbird's server binds, accepts
            // and shuts down.
            server: HTTPServerBuilder { _ in ingress },
            // A backlog for bursts of thousands of new connections (clients opening streams at once); the
            // kernel caps it at net.core.somaxconn. Hummingbird's default, 256, drops SYNs under such bursts.
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port), serverName: "archway", backlog: 4_096),
            services: services,
            onServerRunning: onServerRunning,
            logger: logger
        )
        application.beforeServerStarts {
            // Listen only once every embedded provider is up, so the first request never races them.
            while !state.isReady { try await Task.sleep(for: .milliseconds(5)) }
        }
        return application
    }
}

extension Gateway {
    /// The stages around every call: the policy stage when `policy:` is configured. Should it fail to
    /// build, every call is refused rather than sent unchecked.
    static func stages(_ configuration: GatewayConfiguration, telemetry: GenAITelemetry, logger: Logger) -> StageChain {
        guard configuration.policy != nil else { return StageChain() }
        do {
            return StageChain([try PolicyStage(configuration: configuration, telemetry: telemetry, logger: logger)])
        } catch {
            logger.error("the policy stage could not be built; every model call is refused", metadata: ["error": "\(type(of: error))"])
            return StageChain([RefusingStage()])
        }
    }
}

/// Refuses every call (503 `stage_failed`): what a policy that could not be built enforces.
struct RefusingStage: CallStage {
    let name = "policy"

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision {
        throw GatewayError.stageFailed(name)
    }
}

extension ProviderConfiguration {
    /// A simulator without a base URL runs inside the process.
    var isEmbedded: Bool { kind == .simulator && baseURL == nil }
}

/// Owns the upstream clients: on graceful shutdown it marks the gateway as draining, waits for the
/// server to finish in-flight requests (it is shut down after the server), then closes the clients.
struct HTTPClientService: Service {
    let clients: UpstreamClients
    let state: GatewayState

    func run() async throws {
        try? await gracefulShutdown()
        state.startDraining()
        try await clients.shutdown()
    }
}
