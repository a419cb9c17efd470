/// A tiny, fast, seedable PRNG. The simulator needs reproducible output for a given seed on every
/// platform and process, and routing tests need reproducible choices, which
/// `SystemRandomNumberGenerator` cannot give.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform value in `0..<1` with 53 bits of precision.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform index in `0..<upperBound`; `upperBound` must be positive.
    public mutating func nextIndex(below upperBound: Int) -> Int {
        Int(next() % UInt64(max(upperBound, 1)))
    }

    /// The SplitMix64 finaliser: spreads every input bit over the whole output, so seeds that differ
    /// in one bit (request counters, small user seeds) give unrelated streams.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
