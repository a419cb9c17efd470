public import ServiceContextModule
public import W3CTraceContext

/// The identity of a span as it travels in a `ServiceContext`: what children inherit, what `traceparent`
/// carries, and what log records are parented to.
public struct OTLPSpanContext: Sendable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// The parent's span id; nil for a root span.
    public var parentSpanID: SpanID?
    public var flags: TraceFlags
    /// `tracestate`, almost always empty: then nil here, so that copying a context (every read out of a
    /// `ServiceContext` is one, about 16 a request) retains nothing of an empty `TraceState`'s storage.
    private var nonEmptyState: TraceState?
    public var state: TraceState {
        get { nonEmptyState ?? TraceState() }
        set { nonEmptyState = newValue.isEmpty ? nil : newValue }
    }
    /// Extracted from a caller's headers, not started here.
    public var isRemote: Bool
    /// The parent was extracted from a caller's headers.
    public var parentIsRemote: Bool

    public init(traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, flags: TraceFlags, state: TraceState = TraceState(), isRemote: Bool = false, parentIsRemote: Bool = false) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.flags = flags
        self.nonEmptyState = state.isEmpty ? nil : state
        self.isRemote = isRemote
        self.parentIsRemote = parentIsRemote
    }

    public var isSampled: Bool { flags.contains(.sampled) }

    /// `traceparent` (version 00), written in one allocation: `TraceContext`'s builds each id's hex in an
    /// array of its own and interpolates them, which every model call paid for.
    public var traceParentHeaderValue: String {
        String(unsafeUninitializedCapacity: 55) { out in
            var index = 0
            func put(_ byte: UInt8) {
                out[index] = byte
                index += 1
            }
            func hex(_ bytes: UnsafeRawBufferPointer) {
                for byte in bytes {
                    put(Self.hexDigit(byte >> 4))
                    put(Self.hexDigit(byte & 0x0F))
                }
            }
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: traceID.bytes) { hex($0) }
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: spanID.bytes) { hex($0) }
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: flags.rawValue) { hex($0) }
            return index
        }
    }

    /// Lowercase, as the specification asks.
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
    }
}

private enum OTLPSpanContextKey: ServiceContextKey {
    typealias Value = OTLPSpanContext
    static let nameOverride: String? = "otlp-span-context"
}

extension ServiceContext {
    /// The current span's identity, set by `OTLPTracer`.
    public var otlpSpanContext: OTLPSpanContext? {
        get { self[OTLPSpanContextKey.self] }
        set { self[OTLPSpanContextKey.self] = newValue }
    }
}
