/// Eight bytes at a time (SWAR), for the scanners that skip over text: the JSON scanner's strings and the
/// SSE parser's lines, which are most of the bytes a relay reads.
///
/// A mask has a byte's high bit set where that byte matches. A mask's lowest flagged byte is always a real
/// match (a borrow can only flag bytes above one), so `firstFlagged` of the OR of several masks is the
/// offset of the first byte that matches any of them.
public enum ByteWord {
    /// `byte` in each of a word's eight bytes.
    @inlinable
    public static func repeating(_ byte: UInt8) -> UInt64 {
        0x0101_0101_0101_0101 &* UInt64(byte)
    }

    /// The word at `offset`, its first byte in the lowest bits.
    @inlinable
    public static func load(_ base: UnsafeRawPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The bytes of `word` equal to `byte`.
    @inlinable
    public static func bytes(equalTo byte: UInt8, in word: UInt64) -> UInt64 {
        let difference = word ^ repeating(byte)
        return (difference &- repeating(1)) & ~difference & repeating(0x80)
    }

    /// The bytes of `word` below `limit`, which is at most 0x80.
    @inlinable
    public static func bytes(below limit: UInt8, in word: UInt64) -> UInt64 {
        (word &- repeating(limit)) & ~word & repeating(0x80)
    }

    /// The offset in its word of the first flagged byte of a non-zero mask.
    @inlinable
    public static func firstFlagged(_ mask: UInt64) -> Int {
        mask.trailingZeroBitCount &>> 3
    }

    /// The index of the first byte at or after `start` that `flags` flags, or `bytes.count` if none is.
    /// `flags` maps a word to its mask (an OR of the functions above). The last few bytes are tested one
    /// at a time, each as a word of its own: only that word's lowest byte's flag counts there.
    @inlinable
    public static func firstFlagged(in bytes: UnsafeRawBufferPointer, from start: Int, _ flags: (UInt64) -> UInt64) -> Int {
        var index = start
        guard let base = bytes.baseAddress else { return index }
        while index &+ 8 <= bytes.count {
            let mask = flags(load(base, at: index))
            if mask != 0 { return index &+ firstFlagged(mask) }
            index &+= 8
        }
        while index < bytes.count {
            if flags(UInt64(base.load(fromByteOffset: index, as: UInt8.self))) & 0x80 != 0 { return index }
            index &+= 1
        }
        return index
    }
}
