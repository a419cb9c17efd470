public import ArchwayTelemetry
import Synchronization
public import Tracing

/// A span of `OTLPTracer`. Sampled spans record under a lock and, when they end, are encoded on the
/// ending thread into the exporter's queue: no task, stream or registry per span. Attributes written
/// through `SpanAttributeWriter` (all of Archway's own) are encoded as they are set, with no dictionary;
/// the `attributes` property still reads and changes all of them. Unsampled spans carry their context (so
/// it still propagates) and export nothing.
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
    /// What `SpanAttributeWriter` set, encoded as it was set; no key is in both this and `recorded`.
    @exclusivity(unchecked) private var encoded = OTLPEncodedAttributes()
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
        // What an unsampled or ended span took through the modify accessor is not part of it.
        get {
            lock.withLock { _ in
                guard exporter != nil, !ended else { return [:] }
                guard !encoded.isEmpty else { return recorded }
                var all = recorded
                OTLPEncodedAttributes.copy(encoded.writer.bytes, into: &all)
                return all
            }
        }
        set {
            guard exporter != nil else { return }
            lock.withLock { _ in
                guard !ended else { return }
                recorded = newValue
                encoded.removeAll()
            }
        }
        _modify {
            lock._unsafeLock()
            defer { lock._unsafeUnlock() }
            // The dictionary API sees every attribute: what the writer encoded moves into the dictionary
            // first (the hot paths write through `SpanAttributeWriter` and never come here).
            if !encoded.isEmpty { moveEncodedIntoRecorded() }
            // Changes to an unsampled span, or after the end, land in `recorded` and are never exported;
            // `end` lets them go.
            yield &recorded
        }
    }

    private func moveEncodedIntoRecorded() {
        OTLPEncodedAttributes.copy(encoded.take(), into: &recorded)
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
        guard let exporter else {
            // Unsampled: drop whatever the modify accessor took.
            lock.withLock { _ in recorded = [:] }
            return
        }
        let finished: OTLPFinishedSpan? = lock.withLock { _ in
            guard !ended else { return nil }
            ended = true
            if let limit = exporter.settings.attributeValueLengthLimit, !recorded.isEmpty {
                // Found first, then set: the dictionary is not changed while it is being walked.
                var cuts: [(String, SpanAttribute)] = []
                recorded.forEach { key, value in
                    if let cut = value.truncated(to: limit) { cuts.append((key, cut)) }
                }
                for (key, cut) in cuts { recorded[key] = cut }
            }
            // The recorded values move out: the span keeps nothing it no longer needs.
            defer {
                recorded = [:]
                events = []
                links = []
            }
            let encodedAttributes = encoded.take()
            return OTLPFinishedSpan(
                context: spanContext,
                name: name,
                kind: kind,
                startNanoseconds: startNanoseconds,
                endNanoseconds: 0,
                attributes: recorded,
                encodedAttributes: encodedAttributes,
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

extension OTLPSpan: AttributeEncodingSpan {
    @usableFromInline
    package func writeAttributes(replacing: Bool, capacity: Int, _ write: (inout SpanAttributeWriter) -> Void) {
        guard exporter != nil else { return }
        lock._unsafeLock()
        defer { lock._unsafeUnlock() }
        guard !ended else { return }
        if replacing {
            recorded = [:]
            encoded.removeAll()
        }
        encoded.reserve(attributes: capacity)
        var writer = SpanAttributeWriter(encodingInto: self)
        write(&writer)
    }

    @usableFromInline
    package func appendAttribute(_ name: String, _ value: SpanAttribute) {
        // Under `lock`, taken by `writeAttributes`.
        guard OTLPEncodedAttributes.holds(value) else {
            // Shapes that would not read back as set (32-bit numbers, descriptions made at export) stay in
            // the dictionary.
            encoded.remove(name)
            recorded.set(name, value: value)
            return
        }
        if !recorded.isEmpty { recorded.set(name, value: nil) }
        if let limit = exporter?.settings.attributeValueLengthLimit, let cut = value.truncated(to: limit) {
            encoded.set(name, cut)
        } else {
            encoded.set(name, value)
        }
    }
}

extension SpanAttribute {
    /// The value with its strings cut to `limit` characters (Unicode scalars), as the SDK's attribute
    /// value length limit asks; nil when nothing is longer. A string no longer than `limit` bytes is
    /// never scanned.
    func truncated(to limit: Int) -> SpanAttribute? {
        func cut(_ text: String) -> String? {
            guard text.utf8.count > limit, text.unicodeScalars.count > limit else { return nil }
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: text.unicodeScalars.prefix(limit))
            return String(scalars)
        }
        switch self {
        case .string(let text):
            return cut(text).map { .string($0) }
        case .stringArray(let texts):
            let cuts = texts.map(cut)
            guard cuts.contains(where: { $0 != nil }) else { return nil }
            return .stringArray(zip(texts, cuts).map { $1 ?? $0 })
        default:
            return nil
        }
    }
}
