public import Instrumentation
public import Logging
public import Tracing
import W3CTraceContext

/// Archway's tracer: W3C trace context in and out, a sampler from `OTEL_TRACES_SAMPLER`, and ended
/// spans handed to `OTLPSpanExporter` as values.
///
/// Why not swift-otel's: its tracer sends every span start and end through an async stream to a
/// processor task (two hops, a task wake-up and a locked registry per span) and its exporter and
/// processor protocols are internal, so neither the cost nor gzip could be changed from outside. Here a
/// span is a lock and an append to the exporter's queue; the batching, protobuf and HTTP happen on the
/// exporter's task, off the event loops.
public final class OTLPTracer: Tracer, TraceContextPropagating, Sendable {
    public typealias Span = OTLPSpan

    public let sampler: OTLPSampler
    /// Nil: spans carry and propagate their context but record nothing (`OTEL_TRACES_EXPORTER=none`).
    private let exporter: OTLPSpanExporter?
    /// `OTEL_PROPAGATORS=none` turns off reading and writing `traceparent`.
    public let propagates: Bool
    private let ids = OTLPIDGenerator()

    public init(sampler: OTLPSampler = .default, exporter: OTLPSpanExporter?, propagates: Bool = true) {
        self.sampler = sampler
        self.exporter = exporter
        self.propagates = propagates
    }

    /// The settings the environment gives: sampler, propagators (`tracecontext`, the default, or
    /// `none`) and the exporter (nil with `OTEL_TRACES_EXPORTER=none`).
    public convenience init(environment: [String: String], exporter: OTLPSpanExporter?) {
        self.init(sampler: OTLPSampler(environment: environment), exporter: exporter, propagates: Self.propagates(environment))
    }

    /// Whether `OTEL_PROPAGATORS` (default `tracecontext`) leaves propagation on.
    static func propagates(_ environment: [String: String]) -> Bool {
        let propagators = environment["OTEL_PROPAGATORS"]?.lowercased().split(separator: ",").map { $0.trimmingSpaces() } ?? ["tracecontext"]
        return !propagators.contains("none")
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> OTLPSpan {
        var childContext = context()
        let parent = childContext.otlpSpanContext
        let traceID = parent?.traceID ?? ids.nextTraceID()
        let sampled = sampler.samples(traceID, parent: parent)
        let spanContext = OTLPSpanContext(
            traceID: traceID,
            spanID: ids.nextSpanID(),
            parentSpanID: parent?.spanID,
            flags: sampled ? .sampled : [],
            state: parent?.state ?? TraceState(),
            parentIsRemote: parent?.isRemote ?? false
        )
        childContext.otlpSpanContext = spanContext
        return OTLPSpan(
            name: operationName,
            kind: kind,
            context: childContext,
            spanContext: spanContext,
            startNanoseconds: instant().nanosecondsSinceEpoch,
            exporter: sampled ? exporter : nil
        )
    }

    public func forceFlush() {}
}

extension OTLPTracer {
    /// Puts the current span's `trace_id`, `span_id` and `trace_flags` (hex, as swift-otel names them)
    /// in every log record's metadata: logs and events join their traces.
    public static let loggingMetadataProvider = Logger.MetadataProvider {
        guard let span = ServiceContext.current?.otlpSpanContext else { return [:] }
        return [
            "trace_id": .string(span.traceID.description),
            "span_id": .string(span.spanID.description),
            "trace_flags": .string(span.flags.description),
        ]
    }
}
