import Synchronization
public import Tracing

/// A span of `OTLPTracer`. Sampled spans record under a lock and, when they end, go to the exporter's
/// queue as one value: no task, stream or registry per span. Unsampled spans carry their context (so it
/// still propagates) and record nothing.
public final class OTLPSpan: Span, @unchecked Sendable {
    public let context: ServiceContext
    let spanContext: OTLPSpanContext
    let kind: SpanKind
    let startNanoseconds: UInt64
    /// Nil for a span that is not sampled.
    private let exporter: OTLPSpanExporter?

    // Guarded by `lock`, held across `attributes`' yield so `span.attributes[key] = value` changes the
    // dictionary in place. A `Mutex<Void>` locked and unlocked by hand: it lives inline in the span,
    // where a `NIOLock` is an allocation of its own (three per request).
    private let lock = Mutex<Void>(())
    private var name: String
    // `lock` already makes accesses exclusive. The runtime's check would keep an access record in
    // `attributes`' modify frame, which then outgrows the caller's fixed buffer and is allocated.
    @exclusivity(unchecked) private var recorded: SpanAttributes = [:]
    private var events: [SpanEvent] = []
    private var links: [SpanLink] = []
    private var status: SpanStatus?
    private var ended = false

    init(name: String, kind: SpanKind, context: ServiceContext, spanContext: OTLPSpanContext, startNanoseconds: UInt64, exporter: OTLPSpanExporter?) {
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.exporter = exporter
        self.name = name
    }

    public var isRecording: Bool {
        exporter != nil && !lock.withLock { _ in ended }
    }

    public var operationName: String {
        get { lock.withLock { _ in name } }
        set {
            guard exporter != nil else { return }
            lock.withLock { _ in if !ended { name = newValue } }
        }
    }

    public var attributes: SpanAttributes {
        get { lock.withLock { _ in recorded } }
        set {
            guard exporter != nil else { return }
            lock.withLock { _ in if !ended { recorded = newValue } }
        }
        _modify {
            lock._unsafeLock()
            defer { lock._unsafeUnlock() }
            // Changes after the end (or to an unsampled span) land in `recorded` but are never exported:
            // `end` has moved the recorded values out. No branch to a scratch value here, which kept
            // the accessor's frame small enough not to be allocated on each call.
            yield &recorded
        }
    }

    public func setStatus(_ status: SpanStatus) {
        guard exporter != nil else { return }
        lock.withLock { _ in
            // The specification's precedence: OK is final.
            guard !ended, self.status?.code != .ok else { return }
            self.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard exporter != nil else { return }
        lock.withLock { _ in if !ended { events.append(event) } }
    }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard exporter != nil else { return }
        var event = SpanEvent(name: "exception", at: instant(), attributes: attributes)
        event.attributes["exception.type"] = "\(type(of: error))"
        event.attributes["exception.message"] = "\(error)"
        addEvent(event)
    }

    public func addLink(_ link: SpanLink) {
        guard exporter != nil else { return }
        lock.withLock { _ in if !ended { links.append(link) } }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let exporter else { return }
        let finished: OTLPFinishedSpan? = lock.withLock { _ in
            guard !ended else { return nil }
            ended = true
            // The recorded values move out: the span keeps nothing it no longer needs.
            defer {
                recorded = [:]
                events = []
                links = []
            }
            return OTLPFinishedSpan(
                context: spanContext,
                name: name,
                kind: kind,
                startNanoseconds: startNanoseconds,
                endNanoseconds: 0,
                attributes: recorded,
                events: events,
                links: links,
                status: status
            )
        }
        guard var finished else { return }
        finished.endNanoseconds = instant().nanosecondsSinceEpoch
        exporter.enqueue(finished)
    }
}
