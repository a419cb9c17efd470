import CoreMetrics
import Synchronization

/// Reuses metric handles per label and dimension set. Creating a handle goes through the factory's
/// registry (a lock, a lookup keyed by the attribute set, an allocation) in every backend; a request
/// records half a dozen metrics, so the handles are kept instead of being made per request.
///
/// Bounded: past `capacity` entries new handles are made but not kept, so an unexpected label value
/// (an upstream's invented response model name) cannot grow memory without limit.
final class MetricHandleCache: Sendable {
    struct Key: Hashable, Sendable {
        var label: String
        var dimensions: [String]
    }

    /// A SERVER span's `http.server.request.duration`, keyed by what its dimensions are made of.
    struct ServerKey: Hashable, Sendable {
        var method: String
        var route: String?
        var status: Int
        var errorType: String?
    }

    private let factory: any MetricsFactory
    private let capacity: Int
    private let recorders = Mutex<[Key: Recorder]>([:])
    private let counters = Mutex<[Key: Counter]>([:])
    private let floatingPointCounters = Mutex<[Key: FloatingPointCounter]>([:])
    private let calls = Mutex<[ModelCallMetricHandles.Key: ModelCallMetricHandles]>([:])
    private let serverRecorders = Mutex<[ServerKey: Recorder]>([:])

    init(factory: any MetricsFactory, capacity: Int = 10_000) {
        self.factory = factory
        self.capacity = capacity
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> Key {
        var flat: [String] = []
        flat.reserveCapacity(dimensions.count * 2)
        for (name, value) in dimensions {
            flat.append(name)
            flat.append(value)
        }
        return Key(label: label, dimensions: flat)
    }

    func recorder(_ label: String, _ dimensions: [(String, String)]) -> Recorder {
        cached(in: recorders, Self.key(label, dimensions)) { Recorder(label: label, dimensions: dimensions, aggregate: true, factory: factory) }
    }

    func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        cached(in: counters, Self.key(label, dimensions)) { Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    func floatingPointCounter(_ label: String, _ dimensions: [(String, String)]) -> FloatingPointCounter {
        cached(in: floatingPointCounters, Self.key(label, dimensions)) { FloatingPointCounter(label: label, dimensions: dimensions, factory: factory) }
    }

    /// The handles of a model call's target and outcome. Nothing is made on a hit; on a miss only the
    /// (empty) holder is.
    func call(_ key: ModelCallMetricHandles.Key) -> ModelCallMetricHandles {
        cached(in: calls, key) { ModelCallMetricHandles(key: key) }
    }

    /// The `http.server.request.duration` recorder of `key`: the table holds that one metric, so its label is fixed here.
    func serverDurationRecorder(_ key: ServerKey, _ dimensions: () -> [(String, String)]) -> Recorder {
        cached(in: serverRecorders, key) { Recorder(label: GenAIMetricSet.httpServerDuration, dimensions: dimensions(), aggregate: true, factory: factory) }
    }

    private func cached<Handle: Sendable, Lookup: Hashable & Sendable>(in table: borrowing Mutex<[Lookup: Handle]>, _ key: Lookup, make: () -> Handle) -> Handle {
        if let handle = table.withLock({ $0[key] }) { return handle }
        // Made outside the lock: the factory takes its own locks.
        let handle = make()
        return table.withLock { handles in
            if let existing = handles[key] { return existing }
            if handles.count < capacity { handles[key] = handle }
            return handle
        }
    }
}
