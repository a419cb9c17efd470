public import Tracing

/// A span's attributes encoded as they are set: `Span.attributes` fields (9, `KeyValue`) in the order set,
/// the bytes the span's export carries as they are. Keys stay unique, as OTLP requires: setting a key again
/// replaces its field.
///
/// Only the shapes that read back exactly are kept here (strings, 64-bit integers, doubles, booleans and
/// non-empty string arrays, what `SpanAttributeWriter`'s setters make); `OTLPSpan` keeps the rest in a
/// dictionary.
struct OTLPEncodedAttributes {
    private(set) var writer = ProtobufWriter()
    /// The keys that may be present: 512 bits, two a key. A clear bit proves a key new, so setting a new
    /// key (nearly always) searches nothing; both bits set means a walk through the fields.
    private var filter = InlineArray<8, UInt64>(repeating: 0)

    var isEmpty: Bool { writer.bytes.isEmpty }

    static func holds(_ value: SpanAttribute) -> Bool {
        switch value {
        case .string, .int64, .double, .bool: true
        case .stringArray(let values): !values.isEmpty
        default: false
        }
    }

    /// Sets `key` to `value`, one of the shapes `holds` accepts.
    mutating func set(_ key: String, _ value: SpanAttribute) {
        var key = key
        key.withUTF8 { utf8 in
            let name = UnsafeRawBufferPointer(utf8)
            let bits = Self.filterBits(name)
            if mayHold(bits) {
                _ = removeField(name)
            }
            filter[bits.0 >> 6] |= 1 << (bits.0 & 63)
            filter[bits.1 >> 6] |= 1 << (bits.1 & 63)
            writer.keyValue(9, key: name, value: value)
        }
    }

    /// Removes `key`'s field; returns whether there was one.
    @discardableResult
    mutating func remove(_ key: String) -> Bool {
        guard !isEmpty else { return false }
        var key = key
        return key.withUTF8 { utf8 in
            mayHold(Self.filterBits(UnsafeRawBufferPointer(utf8))) && removeField(UnsafeRawBufferPointer(utf8))
        }
    }

    /// Makes room for `count` more attributes at once (a growing array would reallocate five or six
    /// times for a span's); with no guess, for a few.
    mutating func reserve(attributes count: Int) {
        let wanted = writer.bytes.count + max(count, 4) * Self.typicalFieldSize
        // Geometric, as appends would grow it: modifications one after another must not copy each time.
        if writer.bytes.capacity < wanted { writer.bytes.reserveCapacity(max(wanted, 2 * writer.bytes.capacity)) }
    }

    /// A typical attribute's field: a 20-30 byte key, a short value, six bytes of tags and lengths.
    private static let typicalFieldSize = 48

    mutating func removeAll() {
        writer.bytes.removeAll()
        filter = InlineArray(repeating: 0)
    }

    /// The encoded fields, leaving this empty.
    mutating func take() -> [UInt8] {
        defer { removeAll() }
        return writer.bytes
    }

    /// Sets every attribute of `fields` (what `take` returned, or `writer.bytes`) in `attributes`, as each
    /// reads back: the dictionary API's view of them.
    static func copy(_ fields: [UInt8], into attributes: inout SpanAttributes) {
        fields.withUnsafeBytes { bytes in
            walk(bytes) { _, key, value in
                if let value = value.flatMap(decodeAnyValue) { attributes.set(String(decoding: key, as: UTF8.self), value: value) }
                return true
            }
        }
    }

    // MARK: - Fields

    @inline(__always)
    private func mayHold(_ bits: (Int, Int)) -> Bool {
        filter[bits.0 >> 6] & (1 << (bits.0 & 63)) != 0 && filter[bits.1 >> 6] & (1 << (bits.1 & 63)) != 0
    }

    /// Finds `key`'s field by walking them all and cuts it out.
    private mutating func removeField(_ key: UnsafeRawBufferPointer) -> Bool {
        var found: Range<Int>?
        writer.bytes.withUnsafeBytes { bytes in
            Self.walk(bytes) { range, name, _ in
                if name.elementsEqual(key) { found = range }
                return found == nil
            }
        }
        guard let found else { return false }
        writer.bytes.removeSubrange(found)
        return true
    }

    /// The one reader of the encoded fields: each `KeyValue` field's byte range, its key's UTF-8 and its
    /// `AnyValue`'s bytes, until `body` returns false or the fields end.
    private static func walk(_ bytes: UnsafeRawBufferPointer, _ body: (Range<Int>, UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Bool) {
        var reader = ProtobufReader(bytes)
        while true {
            let start = reader.offset
            guard let field = reader.field(), let keyValue = field.bytes else { return }
            var inner = ProtobufReader(keyValue)
            var key = UnsafeRawBufferPointer(start: nil, count: 0)
            var value: UnsafeRawBufferPointer?
            while let member = inner.field() {
                switch member.number {
                case 1: key = member.bytes ?? key
                case 2: value = member.bytes
                default: break
                }
            }
            guard body(start..<reader.offset, key, value) else { return }
        }
    }

    /// Two of the filter's 512 bits for a key, from its length and its first and last eight bytes (keys
    /// that share a prefix, `gen_ai.request.…`, differ in length or ending).
    @inline(__always)
    static func filterBits(_ key: UnsafeRawBufferPointer) -> (Int, Int) {
        var head: UInt64 = 0
        var tail: UInt64 = 0
        let count = key.count
        if count >= 8 {
            head = key.loadUnaligned(as: UInt64.self)
            tail = key.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        } else {
            for (index, byte) in key.enumerated() { head |= UInt64(byte) << (8 * UInt64(index)) }
            tail = head
        }
        var mixed = (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(count)
        mixed ^= mixed >> 31
        mixed &*= 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 29
        return (Int(mixed & 511), Int((mixed >> 9) & 511))
    }

    /// An `AnyValue` in the shapes `holds` accepts.
    private static func decodeAnyValue(_ bytes: UnsafeRawBufferPointer) -> SpanAttribute? {
        var reader = ProtobufReader(bytes)
        guard let field = reader.field() else { return nil }
        switch (field.number, field.bytes) {
        case (1, let text?): return .string(String(decoding: text, as: UTF8.self))
        case (2, nil): return .bool(field.scalar != 0)
        case (3, nil): return .int64(Int64(bitPattern: field.scalar))
        case (4, nil): return .double(Double(bitPattern: field.scalar))
        case (5, let array?):
            var elements = ProtobufReader(array)
            var values: [String] = []
            while let element = elements.field(), let anyValue = element.bytes {
                guard case .string(let text)? = decodeAnyValue(anyValue) else { return nil }
                values.append(text)
            }
            return .stringArray(values)
        default: return nil
        }
    }
}
