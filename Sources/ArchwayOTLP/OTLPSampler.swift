public import W3CTraceContext

/// Which traces are recorded and exported, as `OTEL_TRACES_SAMPLER` (and `_ARG`) name them.
public enum OTLPSampler: Sendable, Hashable {
    case alwaysOn
    case alwaysOff
    /// A share of traces by trace id, so every service sampling at the same ratio keeps the same traces.
    case traceIDRatio(Double)
    /// A child follows its parent's decision; a root span is decided by `root`.
    indirect case parentBased(root: OTLPSampler)

    /// The SDKs' default: `parentbased_always_on`.
    public static let `default` = OTLPSampler.parentBased(root: .alwaysOn)

    /// Reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; unknown names fall back to the default.
    public init(environment: [String: String]) {
        let ratio = environment["OTEL_TRACES_SAMPLER_ARG"].flatMap(Double.init).map { min(max($0, 0), 1) } ?? 1
        switch environment["OTEL_TRACES_SAMPLER"]?.lowercased() {
        case "always_on": self = .alwaysOn
        case "always_off": self = .alwaysOff
        case "traceidratio": self = .traceIDRatio(ratio)
        case "parentbased_always_off": self = .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": self = .parentBased(root: .traceIDRatio(ratio))
        default: self = .default
        }
    }

    /// Whether a span of this trace is sampled, given its parent's context (nil for a root span).
    public func samples(_ traceID: TraceID, parent: OTLPSpanContext?) -> Bool {
        switch self {
        case .alwaysOn:
            return true
        case .alwaysOff:
            return false
        case .traceIDRatio(let ratio):
            guard ratio < 1 else { return true }
            guard ratio > 0 else { return false }
            // The specification's recommendation: the trace id's last 8 bytes against a threshold.
            let bytes = traceID.bytes
            var low: UInt64 = 0
            withUnsafeBytes(of: bytes) { raw in
                for byte in raw.suffix(8) { low = low << 8 | UInt64(byte) }
            }
            return low >> 1 < UInt64(ratio * Double(UInt64.max >> 1))
        case .parentBased(let root):
            if let parent { return parent.isSampled }
            return root.samples(traceID, parent: nil)
        }
    }
}
