@testable import ArchwayOTLP
import Testing
import Tracing

@Suite struct OTLPExportQueueTests {
    @Test func steadyTrafficReusesItsBuffersAndABurstsAreReleased() async {
        let queue = OTLPExportQueue<Int>(capacity: 100_000)
        func fill(_ count: Int) {
            for value in 0..<count { #expect(queue.append(value)) }
        }
        func drain() async -> Int {
            var seen = 0
            await queue.drain(batchSize: 512) { seen += $0.count }
            return seen
        }

        // A burst, then the same again: the buffers keep their size from one export to the next.
        fill(20_000)
        #expect(await drain() == 20_000)
        #expect(queue.capacities.spare >= 20_000)
        fill(20_000)
        #expect(await drain() == 20_000)
        #expect(max(queue.capacities.items, queue.capacities.spare) >= 20_000)

        // Quiet traffic after the burst: within two exports both oversized buffers are gone.
        fill(10)
        #expect(await drain() == 10)
        fill(10)
        #expect(await drain() == 10)
        #expect(queue.capacities.items < 20_000 && queue.capacities.spare < 20_000)
        #expect(queue.capacities.items <= 1_024 * 2 && queue.capacities.spare <= 1_024 * 2)
    }

    /// Batches stay under the request-size bound, so one large span (captured content) never takes a
    /// collector's refusal of a whole oversized body down with the small spans beside it; a span larger
    /// than the bound goes alone.
    @Test func spanBatchesAreCutByBytesToo() async {
        let queue = OTLPSpanQueue(capacity: 100)
        for size in [10, 10, 300, 10, 10, 10, 50, 50] {
            #expect(queue.append(field: 2, message: [UInt8](repeating: 7, count: size)))
        }
        var batches: [(bytes: Int, spans: Int)] = []
        await queue.drain(batchSize: 4, maxBytes: 100) { bytes, count in batches.append((bytes.count, count)) }
        // Each span is its message plus two bytes of tag and length (three past 127 bytes).
        #expect(batches.map(\.spans) == [2, 1, 4, 1])
        #expect(batches.map(\.bytes) == [24, 303, 88, 52])
        #expect(batches.allSatisfy { $0.bytes <= 100 || $0.spans == 1 })
    }

    @Test func longStringValuesAreCutToTheLimit() {
        #expect(SpanAttribute.string("short").truncated(to: 10) == nil)
        #expect(SpanAttribute.string("héllo wörld").truncated(to: 5) == .string("héllo"))
        // Counted in characters (scalars), never cutting one in half.
        #expect(SpanAttribute.string("ééééé").truncated(to: 6) == nil)
        #expect(SpanAttribute.stringArray(["ok", "too long"]).truncated(to: 3) == .stringArray(["ok", "too"]))
        #expect(SpanAttribute.int64(123_456).truncated(to: 2) == nil)
    }
}

import Logging
import ServiceLifecycle
import Synchronization

/// Graceful shutdown and the export loop: the export under way finishes, and what is left is sent.
@Suite struct ExportLoopShutdownTests {
    final class Exports: Sendable {
        struct State {
            var started = 0
            var finished = 0
            var cancelled = 0
        }
        let state = Mutex(State())
    }

    struct Loop: Service {
        let exports: Exports

        func run() async throws {
            await exportPeriodically(every: .milliseconds(20)) {
                exports.state.withLock { $0.started += 1 }
                // An export takes a while, as an HTTP request does; a cancelled one is a lost batch.
                do {
                    try await Task.sleep(for: .milliseconds(200))
                    exports.state.withLock { $0.finished += 1 }
                } catch {
                    exports.state.withLock { $0.cancelled += 1 }
                }
            }
        }
    }

    @Test func shutdownDuringAnExportLetsItFinishAndExportsOnceMore() async throws {
        let exports = Exports()
        let group = ServiceGroup(configuration: .init(services: [Loop(exports: exports)], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while exports.state.withLock({ $0.started }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let state = exports.state.withLock { $0 }
        #expect(state.cancelled == 0, "an export under way was cancelled: its batch is lost")
        #expect(state.finished == state.started)
        #expect(state.started >= 2, "the final export ran after the one under way")
    }
}
