public import ArchwayConfig
public import Hummingbird
public import Logging
public import NIOCore

/// Entry points for running the simulated LLM upstream (`archway simulate`, the embedded simulator, tests).
public enum Simulator {
    /// Router serving the simulator endpoints with these defaults.
    public static func makeRouter(settings: SimulatorSettings) -> Router<BasicRequestContext> {
        makeRouter(service: SimulatorService(settings: settings))
    }

    /// Router serving an existing simulator, for callers that also want its request log in-process.
    public static func makeRouter(service: SimulatorService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        service.addRoutes(to: router)
        return router
    }

    /// A Hummingbird application (a ServiceLifecycle Service) serving the simulator.
    public static func makeApplication(
        host: String,
        port: Int,
        settings: SimulatorSettings,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(settings: settings),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "archway-simulator"),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}
