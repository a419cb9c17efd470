/// Reads back protobuf fields that `ProtobufWriter` wrote (a span's encoded attributes): tags, varints,
/// fixed widths and length-delimited bytes. Anything malformed ends the read (nil), never a trap.
struct ProtobufReader {
    struct Field {
        var number: Int
        /// A varint's or fixed-width field's value (fixed widths little-endian); 0 for bytes.
        var scalar: UInt64
        /// A length-delimited field's bytes; nil for the other wire types.
        var bytes: UnsafeRawBufferPointer?
    }

    private let bytes: UnsafeRawBufferPointer
    /// Where the next field starts.
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next field, or nil at the end or at malformed bytes.
    mutating func field() -> Field? {
        guard offset < bytes.count, let tag = varint() else { return nil }
        let number = Int(truncatingIfNeeded: tag >> 3)
        switch tag & 7 {
        case 0:
            guard let value = varint() else { return nil }
            return Field(number: number, scalar: value, bytes: nil)
        case 1:
            return fixed(8).map { Field(number: number, scalar: $0, bytes: nil) }
        case 5:
            return fixed(4).map { Field(number: number, scalar: $0, bytes: nil) }
        case 2:
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
            let start = offset
            offset += Int(length)
            return Field(number: number, scalar: 0, bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
        default:
            return nil
        }
    }

    private mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    private mutating func fixed(_ width: Int) -> UInt64? {
        guard bytes.count - offset >= width else { return nil }
        var value: UInt64 = 0
        for index in 0..<width {
            value |= UInt64(bytes[offset + index]) << (8 * UInt64(index))
        }
        offset += width
        return value
    }
}
