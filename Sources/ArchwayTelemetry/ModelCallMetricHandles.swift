import CoreMetrics
import Synchronization

/// The metric handles of one model call target and outcome (response model, error type), found with one
/// lookup a call instead of one hashed lookup a metric.
///
/// Each handle is made the first time it is recorded into, so a series still appears only once it has a
/// value (a non-streamed target has no time-to-first-chunk series). Handles whose dimensions leave the
/// response model or error out (cost, retries) are made in several of these; the registries hand back
/// the same series for the same label and dimensions.
final class ModelCallMetricHandles: Sendable {
    struct Key: Hashable, Sendable {
        var target: ModelCallTarget
        var responseModel: String?
        var errorType: String?
    }

    let key: Key
    let duration = LazyMetricHandle<Recorder>()
    let timeToFirstChunk = LazyMetricHandle<Recorder>()
    let timePerOutputChunk = LazyMetricHandle<Recorder>()
    /// `gen_ai.client.token.usage` by token type (stable), or the input and output token histograms
    /// (latest experimental).
    let inputTokens = LazyMetricHandle<Recorder>()
    let outputTokens = LazyMetricHandle<Recorder>()
    /// The latest experimental token counters.
    let inputTokenCount = LazyMetricHandle<Counter>()
    let outputTokenCount = LazyMetricHandle<Counter>()
    let cacheReadTokenCount = LazyMetricHandle<Counter>()
    let cacheWriteTokenCount = LazyMetricHandle<Counter>()
    let reasoningTokenCount = LazyMetricHandle<Counter>()
    let cost = LazyMetricHandle<FloatingPointCounter>()
    let retries = LazyMetricHandle<Counter>()

    init(key: Key) {
        self.key = key
    }
}

/// A metric handle made the first time it is needed, then read with one atomic load.
///
/// `AtomicLazyReference` does the same, but its `load` is not inlined on Linux: an unspecialised call
/// with a generic metadata lookup on every metric recorded.
struct LazyMetricHandle<Handle: AnyObject & Sendable>: ~Copyable, Sendable {
    /// A retained `Handle`'s address, or 0 until the first `handle(orMake:)`. An address as an integer:
    /// an atomic pointer is not `Sendable`.
    private let address = Atomic<UInt>(0)

    init() {}

    /// The handle, made by `make` the first time; a racing thread's handle is dropped for the winner's.
    func handle(orMake make: () -> Handle) -> Handle {
        let current = address.load(ordering: .acquiring)
        if current != 0 { return Self.handle(at: current) }
        let made = Unmanaged.passRetained(make())
        let (stored, winner) = address.compareExchange(
            expected: 0,
            desired: UInt(bitPattern: made.toOpaque()),
            successOrdering: .acquiringAndReleasing,
            failureOrdering: .acquiring
        )
        if stored { return made.takeUnretainedValue() }
        made.release()
        return Self.handle(at: winner)
    }

    private static func handle(at address: UInt) -> Handle {
        Unmanaged<Handle>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }

    deinit {
        let current = address.load(ordering: .acquiring)
        if current != 0 { Unmanaged<Handle>.fromOpaque(UnsafeRawPointer(bitPattern: current)!).release() }
    }
}
