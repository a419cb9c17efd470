public import ArchwayConfig
import ArchwayCore
import ArchwayProviders
import ArchwayRouting
import ArchwaySimulator
public import ArchwayTelemetry
import AsyncHTTPClient
public import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle

/// Composes the gateway from a validated configuration: the shared upstream client, provider adapters,
/// embedded simulators, routing, telemetry and the HTTP routes, as one Hummingbird application.
public enum Gateway {
    /// Builds the application. It is a ServiceLifecycle `Service`: run it in a `ServiceGroup` (with the
    /// OpenTelemetry service, in the executable) or under HummingbirdTesting.
    ///
    /// - Parameters:
    ///   - prometheus: when given, `GET /metrics` serves it (the same metrics as OTLP, collector-style names).
    ///   - onServerRunning: called with the listening channel (tests use it to learn the port).
    public static func makeApplication(
        configuration: GatewayConfiguration,
        telemetry: GenAITelemetry,
        prometheus: PrometheusExposition? = nil,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let clients = UpstreamClients(settings: configuration.upstream)
        let transport = UpstreamTransport(clients: clients, settings: configuration.upstream, tracer: telemetry.tracer)
        var adapters: [String: any ProviderAdapter] = [:]
        var simulators: [any Service] = []
        let embedded = configuration.providers.values.filter { $0.kind == .simulator && $0.baseURL == nil }
        let state = GatewayState(pendingProviders: embedded.count, startedAt: currentUnixSeconds())
        for provider in configuration.providers.values where !(provider.kind == .simulator && provider.baseURL == nil) {
            adapters[provider.name] = HTTPProviderAdapter(provider: provider, transport: transport)
        }
        let registry = ProviderRegistry(adapters)
        for provider in embedded {
            // An embedded simulator listens on an ephemeral loopback port; its adapter is registered once it does.
            let simulator = Simulator.makeApplication(
                host: "127.0.0.1",
                port: 0,
                settings: provider.simulator,
                logger: Logger(label: "archway.simulator")
            ) { channel in
                let port = channel.localAddress?.port ?? 0
                registry.register(HTTPProviderAdapter(provider: provider, transport: transport, baseURL: "http://127.0.0.1:\(port)/v1"), for: provider.name)
                state.providerReady()
            }
            simulators.append(simulator)
        }

        let catalog = ModelCatalog(configuration: configuration)
        let executor = ModelCallExecutor(
            routing: DirectRoutingPolicy(catalog: catalog, requestTimeout: configuration.upstream.requestTimeout),
            providers: registry,
            telemetry: telemetry,
            logger: logger
        )
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: ServerSpanMiddleware(tracer: telemetry.tracer, telemetry: telemetry))
        if let key = configuration.server.masterKey {
            router.add(middleware: MasterKeyMiddleware(key: key))
        }
        GatewayRoutes(executor: executor, catalog: catalog, maxBodyBytes: configuration.server.maxBodyBytes, state: state).register(on: router)
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

        var application = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientCloseHandler()])),
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port), serverName: "archway"),
            services: [HTTPClientService(clients: clients, state: state)] + simulators,
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
