import Synchronization

/// Readiness of the gateway: ready once every embedded provider listens; not ready once draining.
final class GatewayState: Sendable {
    private let pendingProviders: Atomic<Int>
    private let draining = Atomic<Bool>(false)
    let startedAt: Int

    init(pendingProviders: Int, startedAt: Int) {
        self.pendingProviders = Atomic(pendingProviders)
        self.startedAt = startedAt
    }

    var isReady: Bool {
        pendingProviders.load(ordering: .acquiring) == 0 && !draining.load(ordering: .acquiring)
    }

    func providerReady() {
        pendingProviders.subtract(1, ordering: .releasing)
    }

    func startDraining() {
        draining.store(true, ordering: .releasing)
    }
}
