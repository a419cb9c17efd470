import ServiceLifecycle

/// Runs a service whose graceful shutdown (a final telemetry flush) may take at most `budget`: past it,
/// the service is cancelled. An unreachable collector then costs the exit `budget`, not its retries.
struct BoundedShutdownService: Service {
    let service: any Service
    let budget: Duration

    private struct BudgetExceeded: Error {}

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Child tasks inherit the graceful-shutdown signal, so the service starts its flush as usual.
            group.addTask { try await service.run() }
            group.addTask {
                try await gracefulShutdown()
                try await Task.sleep(for: budget)
                throw BudgetExceeded()
            }
            do {
                try await group.next()
            } catch is BudgetExceeded {
                // The flush ran out of time; what it had not sent is lost, as the log says at exit.
            }
            group.cancelAll()
        }
    }
}
