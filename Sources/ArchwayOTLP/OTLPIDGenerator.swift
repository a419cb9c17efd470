import Synchronization
import W3CTraceContext

/// Random trace and span ids without a system call or a lock per id: wyrand over an atomic counter,
/// seeded once from the system's generator. Ids need to be unique and unpredictable enough for
/// sampling by ratio, not secret.
struct OTLPIDGenerator: ~Copyable, Sendable {
    private let state: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = Atomic(seed)
    }

    func next() -> UInt64 {
        let (_, value) = state.wrappingAdd(0xA076_1D64_78BD_642F, ordering: .relaxed)
        let product = value.multipliedFullWidth(by: value ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }

    func nextSpanID() -> SpanID {
        var value = next()
        if value == 0 { value = 1 }
        return SpanID(bytes: Self.bytes(value))
    }

    func nextTraceID() -> TraceID {
        let high = Self.bytes(next())
        var lowValue = next()
        if lowValue == 0 { lowValue = 1 }  // never the invalid all-zero id
        let low = Self.bytes(lowValue)
        return TraceID(bytes: (high.0, high.1, high.2, high.3, high.4, high.5, high.6, high.7, low.0, low.1, low.2, low.3, low.4, low.5, low.6, low.7))
    }

    private static func bytes(_ value: UInt64) -> SpanID.Bytes {
        let b = value.bigEndian
        return withUnsafeBytes(of: b) { ($0[0], $0[1], $0[2], $0[3], $0[4], $0[5], $0[6], $0[7]) }
    }
}
