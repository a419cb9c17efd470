import ServiceLifecycle

/// Runs a service, and every task it starts, on a given task executor.
struct ServiceOnExecutor: Service {
    let service: any Service
    let executor: any TaskExecutor

    func run() async throws {
        try await withTaskExecutorPreference(executor) {
            try await service.run()
        }
    }
}
