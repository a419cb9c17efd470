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
    /// Attributes already encoded as `Span.attributes` fields (`OTLPEncodedAttributes`), beside
    /// `attributes`; no key is in both.
    var encodedAttributes: [UInt8] = []
    var events: [SpanEvent]
    var links: [SpanLink]
    var status: SpanStatus?
}

extension OTLPFinishedSpan {
    /// The same span with every attribute in `attributes` (tests compare spans by their dictionaries).
    var decodingAttributes: OTLPFinishedSpan {
        var span = self
        OTLPEncodedAttributes.copy(encodedAttributes, into: &span.attributes)
        span.encodedAttributes = []
        return span
    }
}
