extension UInt64 {
    /// Sixteen lowercase hex digits, zero-padded, for simulated ids.
    var paddedHex: String {
        let digits = String(self, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
