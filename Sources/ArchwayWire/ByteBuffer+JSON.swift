import NIOCore

extension ByteBuffer {
    /// Writes `text` as a JSON string literal: runs that need no escape are copied whole; quotes,
    /// backslashes and control characters are escaped (`/` is not, as `WireJSON.encoder` does not).
    mutating func writeJSONString(_ text: String) {
        writeInteger(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<index])) }
                writeEscaped(byte)
                runStart = index + 1
            }
            if runStart < utf8.count { writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart...])) }
        }
        writeInteger(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): writeStaticString("\\\"")
        case UInt8(ascii: "\\"): writeStaticString("\\\\")
        case 0x0A: writeStaticString("\\n")
        case 0x0D: writeStaticString("\\r")
        case 0x09: writeStaticString("\\t")
        case 0x08: writeStaticString("\\b")
        case 0x0C: writeStaticString("\\f")
        default:
            writeStaticString("\\u00")
            writeInteger(Self.hexDigit(byte >> 4))
            writeInteger(Self.hexDigit(byte & 0xF))
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Writes an integer as JSON does.
    mutating func writeJSONInteger(_ value: Int) {
        writeString(String(value))
    }
}

extension ByteBuffer {
    /// Writes an SSE event's data, which the parser joined with line feeds when it came on several
    /// `data:` lines, on one line: a line feed in a JSON document is whitespace (inside a string it would
    /// be invalid JSON either way), so a space in its place means the same and keeps every offset.
    mutating func writeOnOneLine(_ data: ByteBuffer) {
        guard data.readableBytesView.contains(UInt8(ascii: "\n")) else {
            writeImmutableBuffer(data)
            return
        }
        for byte in data.readableBytesView {
            writeInteger(byte == UInt8(ascii: "\n") ? UInt8(ascii: " ") : byte)
        }
    }
}
