import Tracing

/// An ended span waiting in the exporter's queue: plain values, turned into OTLP protobuf off the
/// request path, in batches.
struct OTLPFinishedSpan: Sendable {
    var context: OTLPSpanContext
    var name: String
    var kind: SpanKind
    var startNanoseconds: UInt64
    var endNanoseconds: UInt64
    var attributes: SpanAttributes
    var events: [SpanEvent]
    var links: [SpanLink]
    var status: SpanStatus?
}
