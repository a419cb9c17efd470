@testable import ArchwayOTLP
import Testing

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
}
