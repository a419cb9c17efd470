/// 64-bit FNV-1a. Used instead of `Hasher`, which is seeded randomly per process and so would make
/// the simulator's answers differ between runs.
struct FNV1a: Sendable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    init() {}

    mutating func combine(byte: UInt8) {
        value ^= UInt64(byte)
        value &*= 0x0000_0100_0000_01B3
    }

    mutating func combine(_ text: String) {
        for byte in text.utf8 { combine(byte: byte) }
        // A terminator keeps ("ab", "c") and ("a", "bc") apart.
        combine(byte: 0xFF)
    }

    mutating func combine(_ number: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { combine(byte: UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }

    static func hash(_ text: String) -> UInt64 {
        var hasher = FNV1a()
        hasher.combine(text)
        return hasher.value
    }
}
