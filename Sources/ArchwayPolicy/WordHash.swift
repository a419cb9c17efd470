/// FNV-1a over a word's UTF-8 bytes, built as the word is read (no string is made), with how many
/// letters it has and its first letter (single letters in a row are joined into one word).
struct WordHash: Sendable, Hashable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var count = 0
    private(set) var first: Unicode.Scalar?

    @inline(__always) private mutating func mix(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    /// An ASCII letter (already lower-cased).
    mutating func add(ascii byte: UInt8) {
        mix(byte)
        if count == 0 { first = Unicode.Scalar(byte) }
        count += 1
    }

    /// Any letter, by its UTF-8 bytes.
    mutating func add(_ scalar: Unicode.Scalar) {
        if let encoded = UTF8.encode(scalar) {
            for byte in encoded { mix(byte) }
        }
        if count == 0 { first = scalar }
        count += 1
    }

    static func of(_ word: String) -> UInt64 {
        var hash = WordHash()
        for scalar in word.unicodeScalars { hash.add(scalar) }
        return hash.value
    }
}
