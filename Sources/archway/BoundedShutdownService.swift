import Logging
import ServiceLifecycle

/// Runs services whose graceful shutdown (the final telemetry flush) shares one budget: they flush at
/// the same time, and past `budget` they are cancelled. An unreachable collector then costs the exit
/// `budget` once, not each exporter's retries in turn (orchestrators kill after 10 s).
struct BoundedShutdownService: Service {
    let services: [any Service]
    let budget: Duration
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
                logger.warning("telemetry flush did not finish within telemetry.flush_timeout (\(budget)); what it had not exported is dropped")
            }
            group.cancelAll()
        }
    }
}
