import ArchwayCore
import ArchwayExecution
import ArchwayRouting
import ArchwayTelemetry
import ServiceLifecycle
import Synchronization

/// Active probing of ejected models: a cheap request (one output token), through the execution layer
/// like any call, every `interval` while a model is ejected. One answer brings the model back at once,
/// so a recovered model serves again within a second instead of waiting out its ejection.
struct ProbeService: Service {
    let statistics: RoutingStatistics
    let executor: ModelCallExecutor
    var interval: Duration = .milliseconds(500)
    var timeout: Duration = .seconds(5)

    func run() async throws {
        await withDiscardingTaskGroup { group in
            let inFlight = ProbesInFlight()
            await repeatUntilGracefulShutdown(every: interval) {
                let now = statistics.now
                // Only ejections a probe can end: one for a failure rate serves its time.
                for model in statistics.routedModels where statistics.stats(for: model)?.awaitsProbe(at: now) == true {
                    // One probe at a time per model.
                    guard inFlight.start(model) else { continue }
                    // Held out while the probe runs, which a hanging model ends only at the probe's timeout.
                    statistics.stats(for: model)?.probeStarted(until: now + timeout + EndpointStats.probeHold)
                    group.addTask {
                        defer { inFlight.end(model) }
                        let ping = ChatRequest(model: model, messages: [ChatMessage(role: .user, content: [.text("ping")])], maxTokens: 1)
                        let scope = CallScope(model: model, deadline: .now + timeout, purpose: ModelCallTarget.probePurpose)
                        _ = try? await executor.chat(Relayable(ping), scope: scope)
                    }
                }
            }
            // Probes in flight are not worth waiting for at shutdown.
            group.cancelAll()
        }
    }
}

/// The models with a probe under way.
final class ProbesInFlight: Sendable {
    private let models = Mutex<Set<String>>([])

    func start(_ model: String) -> Bool {
        models.withLock { $0.insert(model).inserted }
    }

    func end(_ model: String) {
        _ = models.withLock { $0.remove(model) }
    }
}
