import Synchronization

/// Ended spans waiting for export, already encoded: each one a `ScopeSpans.spans` field (tag, length,
/// `Span`) appended to one byte buffer, so an export only frames a slice of it.
///
/// Spans are encoded by the thread that ends them (`OTLPSpanExporter.enqueue`): their attribute
/// dictionaries and strings are let go where they were made, while still in that core's cache. Handing
/// the values to the exporter's thread instead made every release there a cache miss on another core's
/// memory, and every free a cross-arena free: a quarter of tracing's CPU under load.
///
/// Bounded by a span count; a full queue refuses the span (the caller counts it). The exporter takes
/// everything at once by swapping in emptied buffers, so the storage is reused from one export to the
/// next; a burst's oversized buffers are let go.
final class OTLPSpanQueue: Sendable {
    private struct State: Sendable {
        var spans = ProtobufWriter()
        /// Where each queued span ends in `spans`.
        var ends: [Int] = []
        var spareSpans = ProtobufWriter()
        var spareEnds: [Int] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds an encoded `Span` message as field `field`; false (and counted) when the queue is full.
    func append(field: Int, message: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.ends.count < capacity else {
                state.dropped += 1
                return false
            }
            state.spans.lengthPrefix(field, message.count)
            state.spans.bytes.append(contentsOf: message)
            state.ends.append(state.spans.bytes.count)
            return true
        }
    }

    /// Spans refused because the queue was full.
    var dropped: Int { state.withLock { $0.dropped } }

    /// Spans waiting now.
    var count: Int { state.withLock { $0.ends.count } }

    /// The capacity of the byte buffers (tests).
    var capacities: (spans: Int, spare: Int) { state.withLock { ($0.spans.bytes.capacity, $0.spareSpans.bytes.capacity) } }

    /// Takes every waiting span, passes them to `body` in slices of at most `batchSize` spans and `maxBytes`
    /// bytes (a span larger than that alone; the bytes and how many spans they hold), and keeps the emptied
    /// buffers for the next time.
    func drain(batchSize: Int, maxBytes: Int = .max, _ body: (ArraySlice<UInt8>, Int) async -> Void) async {
        var (bytes, ends) = state.withLock { state in
            var taken = (bytes: state.spareSpans.bytes, ends: state.spareEnds)
            swap(&taken.bytes, &state.spans.bytes)
            swap(&taken.ends, &state.ends)
            state.spareSpans = ProtobufWriter()
            state.spareEnds = []
            return taken
        }
        var first = 0
        while first < ends.count {
            let start = first == 0 ? 0 : ends[first - 1]
            let upper = min(first + batchSize, ends.count)
            var last = upper
            if ends[upper - 1] - start > maxBytes {
                // The first span past the byte bound starts the next batch; a batch holds at least one.
                last = first + 1
                while last < upper, ends[last] - start <= maxBytes { last += 1 }
            }
            await body(bytes[start..<ends[last - 1]], last - first)
            first = last
        }
        // Reuse the storage for steady traffic, but not a burst's: a buffer four times larger than what
        // it carried goes back to the allocator, so memory returns to idle after a peak.
        let used = (bytes: bytes.count, spans: ends.count)
        bytes.removeAll(keepingCapacity: bytes.capacity <= max(4 * used.bytes, 64 * 1_024))
        ends.removeAll(keepingCapacity: ends.capacity <= max(4 * used.spans, 1_024))
        state.withLock { [bytes, ends] state in
            state.spareSpans.bytes = bytes
            state.spareEnds = ends
        }
    }

    /// Takes every waiting span at once: the bytes and how many spans they hold.
    func takeAll() -> (bytes: [UInt8], count: Int) {
        state.withLock { state in
            var bytes: [UInt8] = []
            swap(&bytes, &state.spans.bytes)
            let count = state.ends.count
            state.ends.removeAll()
            return (bytes, count)
        }
    }
}
