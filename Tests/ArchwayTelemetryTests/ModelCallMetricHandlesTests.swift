import ArchwayCore
import CoreMetrics
@testable import ArchwayTelemetry
import InMemoryTracing
import MetricsTestKit
import Synchronization
import Testing

@Suite struct ModelCallMetricHandlesTests {
    final class Handle: Sendable {}

    final class Tally: Sendable {
        let made = Atomic<Int>(0)
        let handed = Mutex<Set<ObjectIdentifier>>([])
    }

    @Test func aHandleIsMadeOnceEvenWhenThreadsRace() async {
        let tally = Tally()
        weak var first: Handle?
        do {
            let lazy = ModelCallMetricHandles(key: .init(target: GenAITelemetryTests.target, responseModel: nil, errorType: nil))
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        let handle = lazy.retries.handle {
                            tally.made.add(1, ordering: .relaxed)
                            return Counter(label: "c", dimensions: [], factory: TestMetrics())
                        }
                        tally.handed.withLock { _ = $0.insert(ObjectIdentifier(handle)) }
                    }
                }
            }
            // Racing threads may each make one, but every caller gets the one that was stored.
            #expect(tally.made.load(ordering: .relaxed) >= 1)
            #expect(tally.handed.withLock { $0.count } == 1)
            let holder = LazyMetricHandle<Handle>()
            let handle = holder.handle { Handle() }
            first = handle
            #expect(holder.handle { Handle() } === handle)
        }
        // The holder retained its handle and let it go with itself.
        #expect(first == nil)
    }

    @Test func callsOfOneTargetAndOutcomeShareTheirSeries() throws {
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: metrics)
        var outcome = AttemptOutcome(target: GenAITelemetryTests.target, streamed: false)
        outcome.responseModel = "gpt-4o-mini-2024"
        outcome.usage = Usage(inputTokens: 10, outputTokens: 20)
        outcome.costUSD = 1  // whole dollars: the test factory rounds fractional counters
        for seconds in [1, 2] {
            outcome.duration = .seconds(seconds)
            telemetry.recordMetrics(outcome)
        }
        var other = outcome
        other.responseModel = "gpt-4o-mini-2025"
        other.error = GatewayError(status: .badGateway, type: "upstream_error", message: "upstream failed", shortDescription: "upstream_unavailable")
        other.duration = .seconds(3)
        telemetry.recordMetrics(other)

        let durations = metrics.recorders(label: "gen_ai.client.operation.duration")
        #expect(durations.count == 2)
        let plain = try #require(durations.first { !$0.dimensions.contains { $0.0 == "error.type" } })
        #expect(plain.values == [1, 2])
        let failed = try #require(durations.first { $0.dimensions.contains { $0.0 == "error.type" } })
        #expect(failed.values == [3])
        #expect(failed.dimensions.contains { $0 == ("gen_ai.response.model", "gpt-4o-mini-2025") })
        // Not streamed: no time-to-first-chunk series at all.
        #expect(metrics.recorders(label: "gen_ai.client.operation.time_to_first_chunk").isEmpty)
        // Cost leaves the response model and error out: one series across all three calls.
        #expect(metrics.counters(label: "archway.cost").count == 1)
        #expect(metrics.counterTotal(label: "archway.cost") == 3)
    }
}
