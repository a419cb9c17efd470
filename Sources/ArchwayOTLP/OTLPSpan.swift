import NIOConcurrencyHelpers
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

    // Guarded by `lock`. A plain lock rather than a `Mutex` so `attributes` can yield its storage in
    // place (`span.attributes[key] = value` then changes the dictionary without copying it).
    private let lock = NIOLock()
    private var name: String
    private var recorded: SpanAttributes = [:]
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
        exporter != nil && !lock.withLock { ended }
    }

    public var operationName: String {
        get { lock.withLock { name } }
        set {
            guard exporter != nil else { return }
            lock.withLock { if !ended { name = newValue } }
        }
    }

    public var attributes: SpanAttributes {
        get { lock.withLock { recorded } }
        set {
            guard exporter != nil else { return }
            lock.withLock { if !ended { recorded = newValue } }
        }
        _modify {
            lock.lock()
            defer { lock.unlock() }
            // After the end (or unsampled) changes go to a scratch value and are dropped.
            if ended || exporter == nil {
                var scratch = SpanAttributes()
                yield &scratch
            } else {
                yield &recorded
            }
        }
    }

    public func setStatus(_ status: SpanStatus) {
        guard exporter != nil else { return }
        lock.withLock {
            // The specification's precedence: OK is final.
            guard !ended, self.status?.code != .ok else { return }
            self.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard exporter != nil else { return }
        lock.withLock { if !ended { events.append(event) } }
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
        lock.withLock { if !ended { links.append(link) } }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let exporter else { return }
        let finished: OTLPFinishedSpan? = lock.withLock {
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
