import Logging
import ServiceLifecycle

/// Runs services whose graceful shutdown shares one budget: they start it at the same time, and past
/// `budget` they are cancelled and the group goes on. Used twice: for the gateway, whose in-flight
/// requests get `server.shutdown_timeout` before they are cut, so the telemetry flush that follows
/// still runs and exports the cut requests' spans; and for the exporters, whose final flush gets
/// `telemetry.flush_timeout`, so an unreachable collector costs the exit that once, not each exporter's
/// retries in turn (orchestrators kill after 10 s).
struct BoundedShutdownService: Service {
    let services: [any Service]
    let budget: Duration
    /// Logged when the budget runs out.
    let exceeded: String
    /// Runs when the budget runs out, before the services are cancelled.
    var beforeCancelling: @Sendable () async -> Void = {}
    let logger: Logger

    private struct BudgetExceeded: Error {}

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Child tasks inherit the graceful-shutdown signal, so each service starts its flush as usual.
            for service in services {
                group.addTask { try await service.run() }
            }
            group.addTask {
                try await gracefulShutdown()
                try await Task.sleep(for: budget)
                throw BudgetExceeded()
            }
            var running = services.count
            do {
                while running > 0, try await group.next() != nil {
                    running -= 1
                }
            } catch is BudgetExceeded {
                logger.warning("\(exceeded)")
                await beforeCancelling()
            }
            group.cancelAll()
        }
    }
}
