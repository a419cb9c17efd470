public import Instrumentation
import W3CTraceContext

extension OTLPSpanContext {
    /// The caller's context from `traceparent` (and `tracestate`); nil when there is none or it is
    /// malformed, which starts a new trace, as the specification asks.
    static func extract<Carrier, Extract: Extractor>(from carrier: Carrier, using extractor: Extract) -> OTLPSpanContext? where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier) else { return nil }
        let state = extractor.extract(key: "tracestate", from: carrier)
        if let trace = try? TraceContext(traceParentHeaderValue: value, traceStateHeaderValue: state) {
            return OTLPSpanContext(traceID: trace.traceID, spanID: trace.spanID, flags: trace.flags, state: trace.state, isRemote: true)
        }
        // A later version is read by its version-00 fields, and only the sampled flag is kept
        // (W3C Trace Context, "Versioning of traceparent").
        guard let known = versionZeroFields(of: value),
              let trace = try? TraceContext(traceParentHeaderValue: known, traceStateHeaderValue: state)
        else { return nil }
        return OTLPSpanContext(traceID: trace.traceID, spanID: trace.spanID, flags: trace.flags.intersection(.sampled), state: trace.state, isRemote: true)
    }

    /// `00-…` made of a later version's `traceparent`: its first 55 characters, when the version is two
    /// lowercase hex digits other than `00` and `ff`, and anything after them starts with a dash.
    static func versionZeroFields(of value: String) -> String? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 55, bytes.count == 55 || bytes[55] == UInt8(ascii: "-") else { return nil }
        let isHex = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) }
        guard isHex(bytes[0]), isHex(bytes[1]), bytes[2] == UInt8(ascii: "-") else { return nil }
        let version = String(decoding: bytes[0..<2], as: UTF8.self)
        guard version != "00", version != "ff" else { return nil }
        return "00" + String(decoding: bytes[2..<55], as: UTF8.self)
    }

    /// Writes `traceparent`, and `tracestate` when there is one.
    func inject<Carrier, Inject: Injector>(into carrier: inout Carrier, using injector: Inject) where Inject.Carrier == Carrier {
        injector.inject(traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        guard !state.isEmpty else { return }
        let trace = TraceContext(traceID: traceID, spanID: spanID, flags: flags, state: state)
        if let header = trace.traceStateHeaderValue, !header.isEmpty {
            injector.inject(header, forKey: "tracestate", into: &carrier)
        }
    }
}

/// W3C trace-context propagation as Archway's tracers do it (`OTLPTracer`, `PassThroughTracer`): the
/// caller's `traceparent` read into the context, the context's written out, unless `OTEL_PROPAGATORS=none`.
public protocol TraceContextPropagating: Instrument {
    /// Whether `OTEL_PROPAGATORS` leaves propagation on.
    var propagates: Bool { get }
}

extension TraceContextPropagating {
    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract) where Extract.Carrier == Carrier {
        guard propagates, let parent = OTLPSpanContext.extract(from: carrier, using: extractor) else { return }
        context.otlpSpanContext = parent
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject) where Inject.Carrier == Carrier {
        guard propagates else { return }
        context.otlpSpanContext?.inject(into: &carrier, using: injector)
    }
}
