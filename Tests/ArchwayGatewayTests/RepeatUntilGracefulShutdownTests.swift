import ArchwayGateway
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Repeating a service's work until shutdown")
struct RepeatUntilGracefulShutdownTests {
    /// Counts its rounds and reports each one.
    final class Rounds: Sendable {
        let count = Mutex(0)
        let reports: AsyncStream<Int>
        private let continuation: AsyncStream<Int>.Continuation

        init() {
            (reports, continuation) = AsyncStream.makeStream()
        }

        func run() {
            continuation.yield(count.withLock { $0 += 1; return $0 })
        }
    }

    struct Repeating: Service {
        let rounds: Rounds
        let interval: Duration
        let pauseFirst: Bool

        func run() async throws {
            await repeatUntilGracefulShutdown(every: interval, pauseFirst: pauseFirst) { rounds.run() }
        }
    }

    /// Runs `service` in a service group, calls `whileRunning`, shuts the group down gracefully and waits.
    func runGroup(_ service: Repeating, whileRunning: () async -> Void) async throws {
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await whileRunning()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("runs at once, then every interval, and stops at graceful shutdown")
    func repeatsUntilShutdown() async throws {
        let rounds = Rounds()
        try await runGroup(Repeating(rounds: rounds, interval: .milliseconds(5), pauseFirst: false)) {
            for await round in rounds.reports where round == 3 { break }
        }
        let stopped = rounds.count.withLock { $0 }
        try await Task.sleep(for: .milliseconds(30))
        #expect(stopped >= 3)
        #expect(rounds.count.withLock { $0 } == stopped, "no round runs after shutdown")
    }

    @Test("shutdown cuts the pause short instead of waiting out the interval")
    func shutdownEndsThePause() async throws {
        let rounds = Rounds()
        let clock = ContinuousClock()
        let start = clock.now
        try await runGroup(Repeating(rounds: rounds, interval: .seconds(3600), pauseFirst: false)) {
            for await _ in rounds.reports { break }
        }
        #expect(rounds.count.withLock { $0 } == 1)
        #expect(clock.now - start < .seconds(60))
    }

    @Test("pauseFirst waits an interval before the first round")
    func pauseFirst() async throws {
        let rounds = Rounds()
        try await runGroup(Repeating(rounds: rounds, interval: .seconds(3600), pauseFirst: true)) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        #expect(rounds.count.withLock { $0 } == 0)
    }

    @Test("cancellation ends the loop as well")
    func cancellationEnds() async {
        let rounds = Rounds()
        let task = Task {
            await repeatUntilGracefulShutdown(every: .seconds(3600)) { rounds.run() }
        }
        for await _ in rounds.reports { break }
        task.cancel()
        await task.value
        #expect(rounds.count.withLock { $0 } == 1)
    }
}
