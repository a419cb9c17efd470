import ArchwayCore
import Testing

@Suite struct ByteWordTests {
    /// The first flagged byte of the OR of several masks is the first byte matching any of them, for words
    /// built so that matches, near-matches and bytes that borrow sit next to each other.
    @Test func firstFlaggedIsTheFirstMatch() {
        let pieces: [UInt8] = [0x00, 0x01, 0x0A, 0x0B, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5C, 0x7F, 0x80, 0x9F, 0xA2, 0xDC, 0xFF]
        var random = SplitMix64(seed: 8)
        for _ in 0..<50_000 {
            let bytes = (0..<8).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }
            let word = bytes.withUnsafeBytes { ByteWord.load($0.baseAddress!, at: 0) }
            let mask = ByteWord.bytes(equalTo: 0x22, in: word) | ByteWord.bytes(equalTo: 0x5C, in: word)
                | ByteWord.bytes(below: 0x20, in: word)
            let expected = bytes.firstIndex { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }
            #expect((mask == 0 ? nil : ByteWord.firstFlagged(mask)) == expected, "\(bytes)")
        }
    }

    /// The search over a buffer, words and the bytes after the last whole word alike, from any start.
    @Test func firstFlaggedInABufferIsTheFirstMatchFromTheStart() {
        let pieces: [UInt8] = [0x00, 0x01, 0x0A, 0x0B, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x5C, 0x7F, 0x80, 0xFF]
        var random = SplitMix64(seed: 9)
        for _ in 0..<20_000 {
            let bytes = (0..<Int(random.next() % 24)).map { _ in
                random.next() % 3 == 0 ? pieces[Int(random.next() % UInt64(pieces.count))] : UInt8(ascii: "x")
            }
            let start = Int(random.next() % UInt64(bytes.count + 1))
            let found = bytes.withUnsafeBytes { buffer in
                ByteWord.firstFlagged(in: buffer, from: start) { word in
                    ByteWord.bytes(equalTo: 0x22, in: word) | ByteWord.bytes(below: 0x20, in: word)
                }
            }
            let expected = bytes[start...].firstIndex { $0 == 0x22 || $0 < 0x20 } ?? bytes.count
            #expect(found == expected, "\(bytes) from \(start)")
        }
    }

    @Test func loadsAtAnyOffsetFirstByteLowest() {
        let bytes: [UInt8] = [9, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(bytes.withUnsafeBytes { ByteWord.load($0.baseAddress!, at: 1) } == 0x0807_0605_0403_0201)
    }
}
