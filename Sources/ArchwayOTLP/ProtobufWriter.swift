/// Protocol Buffers wire format, written straight into a byte array: varints, fixed-width numbers and
/// length-delimited fields. Only what the OTLP encoders need.
struct ProtobufWriter {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    static func varintSize(_ value: UInt64) -> Int {
        // 7 bits a byte; at least one.
        (64 - max(value, 1).leadingZeroBitCount + 6) / 7
    }

    /// A length-delimited field's size with its tag (one byte for the field numbers used here) and length.
    static func fieldSize(length: Int) -> Int {
        1 + varintSize(UInt64(length)) + length
    }

    // Tags, lengths and numbers are encoded by `ProtobufHead` (the one place that knows varints and
    // fixed widths) and appended at once.

    mutating func lengthPrefix(_ field: Int, _ length: Int) {
        var head = ProtobufHead()
        head.lengthPrefix(field, length)
        append(head)
    }

    mutating func string(_ field: Int, _ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            lengthPrefix(field, utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func raw<Value>(_ field: Int, bytesOf value: Value) {
        withUnsafeBytes(of: value) { raw in
            lengthPrefix(field, raw.count)
            bytes.append(contentsOf: raw)
        }
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        var head = ProtobufHead()
        head.fixed64(field, value)
        append(head)
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        var head = ProtobufHead()
        head.fixed32(field, value)
        append(head)
    }

    mutating func uint(_ field: Int, _ value: UInt64) {
        var head = ProtobufHead()
        head.uint(field, value)
        append(head)
    }

    /// A nested message whose body is written first into `scratch` (reused, so no allocation once warm).
    mutating func message(_ field: Int, scratch: inout ProtobufWriter, _ body: (inout ProtobufWriter) -> Void) {
        scratch.bytes.removeAll(keepingCapacity: true)
        body(&scratch)
        lengthPrefix(field, scratch.bytes.count)
        bytes.append(contentsOf: scratch.bytes)
    }
}
