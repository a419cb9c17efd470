import ArchwayCore

/// Reads a JSON document where it lies: finds an object's members, skips values and reads the few scalars
/// a caller asks for, without building a value tree.
///
/// The hot path uses it to forward OpenAI-wire bodies as bytes: it reads what telemetry needs (ids, usage,
/// finish reasons) and the byte ranges to rewrite (`model`), where `Codable` would decode and re-encode the
/// whole document. Skipping a value validates it against JSON's grammar (strings without raw control
/// characters and with valid escapes, numbers as JSON writes them, balanced and well-formed containers,
/// at most `maxDepth` deep): the relay forwards only bytes that are JSON, whatever a lazier decoder let
/// through, and a hostile nesting cannot exhaust the stack.
///
/// Offsets are byte indices into `bytes`. Valid only while the memory it was made with is.
public struct JSONScanner {
    /// Malformed JSON at `offset`.
    public struct Failure: Error, Sendable {
        public let offset: Int
    }

    /// An object member: the key's bytes between its quotes and the value's bytes.
    public struct Member {
        public let key: Range<Int>
        public let value: Range<Int>
        /// The key contains a backslash escape, so its raw bytes are not its text.
        let keyIsEscaped: Bool
    }

    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Structure

    /// The index of the first byte at or after `index` that is not JSON whitespace.
    public func skipWhitespace(from index: Int) -> Int {
        var index = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return index
            }
        }
        return index
    }

    /// The bytes of the value that starts at `index` (after any whitespace).
    public func value(at index: Int) throws -> Range<Int> {
        let start = skipWhitespace(from: index)
        return start..<(try valueEnd(from: start, depth: 0))
    }

    /// Calls `body` with each member of the object `range` holds (as `value(at:)` returned it).
    /// Throws if `range` is not an object.
    public func forEachMember(of range: Range<Int>, _ body: (Member) throws -> Void) throws {
        var index = range.lowerBound
        guard index < range.upperBound, bytes[index] == UInt8(ascii: "{") else { throw Failure(offset: index) }
        index = skipWhitespace(from: index + 1)
        if index < range.upperBound, bytes[index] == UInt8(ascii: "}") { return }
        while true {
            guard index < range.upperBound, bytes[index] == UInt8(ascii: "\"") else { throw Failure(offset: index) }
            let key = try stringEnd(from: index)
            index = skipWhitespace(from: key.end)
            guard index < range.upperBound, bytes[index] == UInt8(ascii: ":") else { throw Failure(offset: index) }
            let value = try self.value(at: index + 1)
            try body(Member(key: (key.start + 1)..<(key.end - 1), value: value, keyIsEscaped: key.escaped))
            index = skipWhitespace(from: value.upperBound)
            guard index < range.upperBound else { throw Failure(offset: index) }
            switch bytes[index] {
            case UInt8(ascii: ","): index = skipWhitespace(from: index + 1)
            case UInt8(ascii: "}"): return
            default: throw Failure(offset: index)
            }
        }
    }

    /// Calls `body` with each element of the array `range` holds. Throws if `range` is not an array.
    public func forEachElement(of range: Range<Int>, _ body: (Range<Int>) throws -> Void) throws {
        var index = range.lowerBound
        guard index < range.upperBound, bytes[index] == UInt8(ascii: "[") else { throw Failure(offset: index) }
        index = skipWhitespace(from: index + 1)
        if index < range.upperBound, bytes[index] == UInt8(ascii: "]") { return }
        while true {
            let element = try value(at: index)
            try body(element)
            index = skipWhitespace(from: element.upperBound)
            guard index < range.upperBound else { throw Failure(offset: index) }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): return
            default: throw Failure(offset: index)
            }
        }
    }

    /// Whether the member's key is `name`.
    public func key(of member: Member, is name: StaticString) -> Bool {
        if member.keyIsEscaped {
            return string(inQuoted: (member.key.lowerBound - 1)..<(member.key.upperBound + 1)) == name.description
        }
        return matches(name, at: member.key.lowerBound, length: member.key.count)
    }

    // MARK: Scalars

    /// The text of a string value (`range` includes its quotes); nil if it is not a string or not UTF-8.
    public func string(_ range: Range<Int>) -> String? {
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        return string(inQuoted: range)
    }

    /// An integer value; nil if it is not a number or not integral.
    public func int(_ range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        var index = range.lowerBound
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < range.upperBound else { return nil }
        var value = 0
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                // `12.0` or `1e3`: accept when integral, as a decoder would.
                return double(range).flatMap { $0.rounded() == $0 && abs($0) < 9e15 ? Int($0) : nil }
            }
            let (product, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = product.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if overflowA || overflowB { return nil }
            value = sum
            index += 1
        }
        return negative ? -value : value
    }

    /// A number value; nil if it is not a number.
    public func double(_ range: Range<Int>) -> Double? {
        guard !range.isEmpty else { return nil }
        let first = bytes[range.lowerBound]
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return nil }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
    }

    /// Whether `range` is a number as JSON's grammar has it (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    /// Skipping is lenient about numbers; a reader that must reject what a strict decoder rejects checks this.
    public func isStrictNumber(_ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        func digits() -> Int {
            let start = index
            while index < range.upperBound, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < range.upperBound, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < range.upperBound else { return false }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            return false
        }
        if index < range.upperBound, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < range.upperBound, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < range.upperBound, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == range.upperBound
    }

    /// A boolean value; nil if it is not `true` or `false`.
    public func bool(_ range: Range<Int>) -> Bool? {
        switch range.count {
        case 4 where bytes[range.lowerBound] == UInt8(ascii: "t"): true
        case 5 where bytes[range.lowerBound] == UInt8(ascii: "f"): false
        default: nil
        }
    }

    /// Whether the value is `null`.
    public func isNull(_ range: Range<Int>) -> Bool {
        range.count == 4 && bytes[range.lowerBound] == UInt8(ascii: "n")
    }

    // MARK: Skipping

    /// Deepest nesting a scanned document may have (the `Codable` decoder's own limit is similar).
    public static let maxDepth = 512

    /// From an opening quote: the index after the closing quote, and whether an escape came between.
    /// Throws on a raw control character or an invalid escape.
    private func stringEnd(from start: Int) throws -> (start: Int, end: Int, escaped: Bool) {
        var index = start + 1
        var escaped = false
        while true {
            index = stringStop(from: index)
            guard index < bytes.count else { throw Failure(offset: start) }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return (start, index + 1, escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                guard index + 1 < bytes.count else { throw Failure(offset: start) }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 6 <= bytes.count, (index + 2..<index + 6).allSatisfy({ Self.isHexDigit(bytes[$0]) }) else {
                        throw Failure(offset: index)
                    }
                    index += 6
                default:
                    throw Failure(offset: index)
                }
            default:
                throw Failure(offset: index) // a raw control character
            }
        }
    }

    /// The index of the first quote, backslash or control character at or after `index` (or the end).
    /// String contents are most of the bytes the scanner skips (message text), so eight at a time.
    @inline(__always)
    private func stringStop(from index: Int) -> Int {
        ByteWord.firstFlagged(in: bytes, from: index) { word in
            ByteWord.bytes(equalTo: UInt8(ascii: "\""), in: word) | ByteWord.bytes(equalTo: UInt8(ascii: "\\"), in: word)
                | ByteWord.bytes(below: 0x20, in: word)
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    /// The end of the value starting at `index` (no whitespace before it), validated, `depth` deep.
    private func valueEnd(from index: Int, depth: Int) throws -> Int {
        guard index < bytes.count else { throw Failure(offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "\""): return try stringEnd(from: index).end
        case UInt8(ascii: "{"), UInt8(ascii: "["): return try containerEnd(from: index, depth: depth + 1)
        case UInt8(ascii: "t"): return try literalEnd(from: index, "true")
        case UInt8(ascii: "f"): return try literalEnd(from: index, "false")
        case UInt8(ascii: "n"): return try literalEnd(from: index, "null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try numberEnd(from: index)
        default: throw Failure(offset: index)
        }
    }

    /// From an opening brace or bracket: the index after its matching close, every member or element
    /// validated on the way.
    private func containerEnd(from start: Int, depth: Int = 1) throws -> Int {
        guard depth <= Self.maxDepth else { throw Failure(offset: start) }
        let isObject = bytes[start] == UInt8(ascii: "{")
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        var index = skipWhitespace(from: start + 1)
        if index < bytes.count, bytes[index] == close { return index + 1 }
        while index < bytes.count {
            if isObject {
                guard bytes[index] == UInt8(ascii: "\"") else { throw Failure(offset: index) }
                index = skipWhitespace(from: try stringEnd(from: index).end)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Failure(offset: index) }
                index = skipWhitespace(from: index + 1)
            }
            index = skipWhitespace(from: try valueEnd(from: index, depth: depth))
            guard index < bytes.count else { break }
            if bytes[index] == close { return index + 1 }
            guard bytes[index] == UInt8(ascii: ",") else { throw Failure(offset: index) }
            index = skipWhitespace(from: index + 1)
        }
        throw Failure(offset: start)
    }

    private func literalEnd(from start: Int, _ literal: StaticString) throws -> Int {
        let count = literal.utf8CodeUnitCount
        guard start + count <= bytes.count, matches(literal, at: start, length: count) else { throw Failure(offset: start) }
        return start + count
    }

    /// The end of a number as JSON's grammar writes it: `-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private func numberEnd(from start: Int) throws -> Int {
        var index = start
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw Failure(offset: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw Failure(offset: start)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Failure(offset: start) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Failure(offset: start) }
        }
        return index
    }

    // MARK: Unescaping

    /// `String(validating:as:)`, without its generic validation (a runtime metadata lookup a call) when
    /// the bytes are ASCII, as most of a request's strings are: ASCII is valid UTF-8 as it stands.
    static func string(validating raw: UnsafeRawBufferPointer) -> String? {
        raw.contains { $0 >= 0x80 } ? String(validating: raw, as: UTF8.self) : String(decoding: raw, as: UTF8.self)
    }

    /// The text of the string whose bytes (quotes included) are `range`.
    private func string(inQuoted range: Range<Int>) -> String? {
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[inner])
        guard raw.contains(UInt8(ascii: "\\")) else { return Self.string(validating: raw) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.count)
        var index = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for offset in 0..<4 {
                guard let digit = Self.hexValue(raw[at + offset]) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            guard index + 1 < raw.count else { return nil }
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4(index) else { return nil }
                index += 4
                if (0xD800..<0xDC00).contains(code) {
                    // A high surrogate must be followed by `\u` and a low one.
                    guard index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u"),
                          let low = hex4(index + 2), (0xDC00..<0xE000).contains(low) else { return nil }
                    index += 6
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                utf8.append(contentsOf: String(scalar).utf8)
            default:
                return nil
            }
        }
        return utf8.withUnsafeBytes(Self.string(validating:))
    }

    /// Whether the `length` bytes at `start` are exactly `text`.
    private func matches(_ text: StaticString, at start: Int, length: Int) -> Bool {
        guard length == text.utf8CodeUnitCount, start + length <= bytes.count else { return false }
        let expected = text.utf8Start
        for offset in 0..<length where bytes[start + offset] != expected[offset] {
            return false
        }
        return true
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
