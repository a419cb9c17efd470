import ServiceLifecycle
import Synchronization

/// The bounded queue an exporter's items wait in between exports: appending is a lock and a copy of a
/// value; a full queue refuses the item (the caller counts it). The exporter takes everything at once by
/// swapping in an emptied buffer, so the storage is reused from one export to the next (a burst's
/// oversized buffer is let go).
final class OTLPExportQueue<Item: Sendable>: Sendable {
    private struct State: Sendable {
        var items: [Item] = []
        var spare: [Item] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds an item; false (and counted) when the queue is full.
    func append(_ item: Item) -> Bool {
        state.withLock { state in
            guard state.items.count < capacity else {
                state.dropped += 1
                return false
            }
            state.items.append(item)
            return true
        }
    }

    /// Items refused because the queue was full.
    var dropped: Int { state.withLock { $0.dropped } }

    /// The items waiting now (tests).
    var items: [Item] { state.withLock { $0.items } }

    /// The capacity of the two buffers (tests).
    var capacities: (items: Int, spare: Int) { state.withLock { ($0.items.capacity, $0.spare.capacity) } }

    /// Takes every waiting item, passes them to `body` in slices of at most `batchSize`, and keeps the
    /// emptied buffer for the next time.
    func drain(batchSize: Int, _ body: (ArraySlice<Item>) async -> Void) async {
        var taken = state.withLock { state in
            var taken = state.spare
            swap(&taken, &state.items)
            state.spare = []
            return taken
        }
        var start = taken.startIndex
        while start < taken.endIndex {
            let end = min(start + batchSize, taken.endIndex)
            await body(taken[start..<end])
            start = end
        }
        // Reuse the storage for steady traffic, but not a burst's: a buffer four times larger than what
        // it carried goes back to the allocator, so memory returns to idle after a peak.
        let count = taken.count
        taken.removeAll(keepingCapacity: taken.capacity <= max(4 * count, 1_024))
        state.withLock { $0.spare = taken }
    }

    /// Takes every waiting item at once.
    func takeAll() -> [Item] {
        state.withLock { state in
            var taken: [Item] = []
            swap(&taken, &state.items)
            return taken
        }
    }
}

/// An exporter's service loop: `export` every `delay` until graceful shutdown, then once more for what
/// is left (the caller bounds how long that may take).
///
/// Graceful shutdown cuts short only the wait between exports, never an export: cancelling the loop as a
/// whole cancelled the export it was in (its batch already taken from the queue), so the last spans of
/// every shutdown, a drained stream's among them, were lost.
func exportPeriodically(every delay: Duration, _ export: @escaping @Sendable () async -> Void) async {
    while !Task.isShuttingDownGracefully, !Task.isCancelled {
        await cancelWhenGracefulShutdown {
            try? await Task.sleep(for: delay)
        }
        await export()
    }
    // What was queued while the last export ran.
    await export()
}
