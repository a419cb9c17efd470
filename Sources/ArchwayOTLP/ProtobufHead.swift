/// Up to 32 bytes of protobuf tags, lengths and small values gathered on the stack, then appended to a
/// `ProtobufWriter` at once. An attribute's fields written one by one were a dozen appends, each checking
/// the array's uniqueness and capacity; gathered, an attribute is three or four appends.
struct ProtobufHead {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count = 0

    /// A length-delimited field's tag and length (the bytes follow separately).
    mutating func lengthPrefix(_ field: Int, _ length: Int) {
        varint(UInt64(field) << 3 | ProtobufWriter.WireType.lengthDelimited.rawValue)
        varint(UInt64(length))
    }

    /// A varint field: tag and value.
    mutating func uint(_ field: Int, _ value: UInt64) {
        varint(UInt64(field) << 3 | ProtobufWriter.WireType.varint.rawValue)
        varint(value)
    }

    /// A fixed 64-bit field: tag and eight little-endian bytes.
    mutating func fixed64(_ field: Int, _ value: UInt64) {
        varint(UInt64(field) << 3 | ProtobufWriter.WireType.fixed64.rawValue)
        var value = value
        for _ in 0..<8 {
            byte(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(truncatingIfNeeded: value))
    }

    private mutating func byte(_ value: UInt8) {
        let index = count
        precondition(index < 32, "ProtobufHead holds 32 bytes")
        withUnsafeMutableBytes(of: &storage) { $0[index] = value }
        count = index + 1
    }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }
}

extension ProtobufWriter {
    mutating func append(_ head: ProtobufHead) {
        head.withBytes { bytes.append(contentsOf: $0) }
    }
}
