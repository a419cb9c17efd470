public import NIOCore

/// An incremental parser for `text/event-stream`, fed in whatever pieces the network delivers.
///
/// Follows the WHATWG rules that matter for LLM APIs: `\n`, `\r\n` and `\r` line ends, several `data:`
/// lines joined by `\n`, comment lines ignored, one optional space after the colon removed, and an
/// event dispatched at a blank line.
public struct SSEParser: Sendable {
    private var buffer: ByteBuffer
    private var event: String?
    private var data: String = ""
    private var hasData = false
    private var id: String?

    public init() {
        self.buffer = ByteBuffer()
    }

    /// Adds bytes received from the network.
    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// Returns the next complete event, or nil when more bytes are needed.
    public mutating func nextEvent() -> ServerSentEvent? {
        while let line = nextLine() {
            if line.isEmpty {
                if let dispatched = dispatch() { return dispatched }
                continue
            }
            process(line: line)
        }
        return nil
    }

    /// Call once the stream has ended: returns an event left without its closing blank line.
    public mutating func finish() -> ServerSentEvent? {
        if buffer.readableBytes > 0 {
            let rest = buffer.readString(length: buffer.readableBytes) ?? ""
            process(line: Substring(rest.hasSuffix("\r") ? String(rest.dropLast()) : rest))
        }
        return dispatch()
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            event = nil
            data = ""
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(event: event, data: data, id: id)
    }

    private mutating func process(line: Substring) {
        if line.first == ":" { return }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = line
            value = ""
        }
        switch field {
        case "data":
            if hasData { data += "\n" }
            data += value
            hasData = true
        case "event":
            event = String(value)
        case "id":
            id = String(value)
        default:
            break
        }
    }

    /// The next line without its terminator, or nil if no complete line is buffered.
    private mutating func nextLine() -> Substring? {
        let readable = buffer.readableBytesView
        guard let end = readable.firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
            return nil
        }
        var terminatorLength = 1
        if readable[end] == UInt8(ascii: "\r") {
            let next = readable.index(after: end)
            if next == readable.endIndex {
                // A lone `\r` at the end may be the first half of `\r\n`: wait for the next byte.
                return nil
            }
            if readable[next] == UInt8(ascii: "\n") { terminatorLength = 2 }
        }
        let length = end - readable.startIndex
        let line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: terminatorLength)
        if buffer.readableBytes == 0 { buffer.clear() }
        return Substring(line)
    }
}
