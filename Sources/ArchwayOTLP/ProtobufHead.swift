/// Up to 96 bytes of protobuf tags, lengths, small values and short strings gathered on the stack, then
/// appended to a `ProtobufWriter` at once. An attribute's fields written one by one were a dozen appends,
/// each checking the array's uniqueness and capacity; gathered, an attribute with a number is one append
/// and one with a string two.
struct ProtobufHead {
    static let capacity = 96
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0

    /// A field's tag: its number and wire type.
    @inline(__always)
    mutating func tag(_ field: Int, _ type: ProtobufWriter.WireType) {
        varint(UInt64(field) << 3 | type.rawValue)
    }

    /// A length-delimited field's tag and length (the bytes follow separately).
    mutating func lengthPrefix(_ field: Int, _ length: Int) {
        tag(field, .lengthDelimited)
        varint(UInt64(length))
    }

    /// A varint field: tag and value.
    mutating func uint(_ field: Int, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    /// A fixed 64-bit field: tag and eight little-endian bytes.
    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, .fixed64)
        littleEndian(value, bytes: 8)
    }

    /// A fixed 32-bit field: tag and four little-endian bytes.
    mutating func fixed32(_ field: Int, _ value: UInt32) {
        tag(field, .fixed32)
        littleEndian(UInt64(value), bytes: 4)
    }

    /// A base-128 varint: seven bits a byte, least significant first, at least one byte.
    @inline(__always)
    mutating func varint(_ value: UInt64) {
        // Tags and most lengths are one byte.
        if value < 0x80 {
            byte(UInt8(truncatingIfNeeded: value))
            return
        }
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(truncatingIfNeeded: value))
    }

    /// Appends `raw` if it fits in what is left; returns false (and appends nothing) if it does not.
    @discardableResult
    mutating func append(_ raw: UnsafeRawBufferPointer) -> Bool {
        let start = count
        guard raw.count <= Self.capacity - start else { return false }
        withUnsafeMutableBytes(of: &storage) { storage in
            UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + raw.count)]).copyMemory(from: raw)
        }
        count = start + raw.count
        return true
    }

    /// Appends another head's bytes if they fit; returns false (and appends nothing) if they do not.
    @discardableResult
    mutating func append(_ other: ProtobufHead) -> Bool {
        other.withBytes { append($0) }
    }

    private mutating func littleEndian(_ value: UInt64, bytes: Int) {
        var value = value
        for _ in 0..<bytes {
            byte(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    @inline(__always)
    private mutating func byte(_ value: UInt8) {
        let index = count
        precondition(index < Self.capacity, "ProtobufHead holds 96 bytes")
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
