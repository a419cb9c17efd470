public import NIOCore

/// An incremental parser for `text/event-stream`, fed in whatever pieces the network delivers.
///
/// Follows the WHATWG rules that matter for LLM APIs: `\n`, `\r\n` and `\r` line ends, several `data:`
/// lines joined by `\n`, comment lines ignored, one optional space after the colon removed, an event
/// dispatched at a blank line, and one byte-order mark at the stream's start dropped (its UTF-8 decoding).
///
/// Works on bytes: an event's data is a slice of the buffer it arrived in whenever it is one line (as in
/// every LLM API), so a relay can read and forward it without copying it into a `String` first.
public struct SSEParser: Sendable {
    /// One event with its data as bytes.
    public struct RawEvent: Sendable {
        public var event: String?
        public var data: ByteBuffer
        public var id: String?
    }

    private var buffer: ByteBuffer
    private var event: String?
    private var data: ByteBuffer?
    private var id: String?
    /// Until the stream's first three bytes are known not to be, or have been dropped as, a byte-order mark.
    private var atStart = true

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
        if atStart { dropByteOrderMark() }
    }

    /// A stream that starts with a byte-order mark (some servers write one) would otherwise have its first
    /// line read as a field named `\u{FEFF}data`, and its first event lost. No line is read before it is
    /// settled: a partial mark holds no line end.
    private mutating func dropByteOrderMark() {
        let known = min(buffer.readableBytes, 3)
        for offset in 0..<known where buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self) != (offset == 0 ? 0xEF : offset == 1 ? 0xBB : 0xBF) {
            atStart = false
            return
        }
        guard known == 3 else { return }
        buffer.moveReaderIndex(forwardBy: 3)
        atStart = false
    }

    /// Returns the next complete event, or nil when more bytes are needed.
    public mutating func nextEvent() -> ServerSentEvent? {
        nextRawEvent().map(ServerSentEvent.init)
    }

    /// Returns the next complete event with its data as bytes, or nil when more bytes are needed.
    public mutating func nextRawEvent() -> RawEvent? {
        while let line = nextLine() {
            if line.readableBytes == 0 {
                if let dispatched = dispatch() { return dispatched }
                continue
            }
            process(line: line)
        }
        return nil
    }

    /// Call once the stream has ended: returns an event left without its closing blank line.
    public mutating func finish() -> ServerSentEvent? {
        finishRaw().map(ServerSentEvent.init)
    }

    /// `finish()` with the data as bytes.
    public mutating func finishRaw() -> RawEvent? {
        if buffer.readableBytes > 0, var rest = buffer.readSlice(length: buffer.readableBytes) {
            if rest.getInteger(at: rest.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
                rest.moveWriterIndex(to: rest.writerIndex - 1)
            }
            process(line: rest)
        }
        return dispatch()
    }

    private mutating func dispatch() -> RawEvent? {
        defer {
            event = nil
            data = nil
        }
        guard let data else { return nil }
        return RawEvent(event: event, data: data, id: id)
    }

    private mutating func process(line: ByteBuffer) {
        let view = line.readableBytesView
        if view.first == UInt8(ascii: ":") { return }
        var value = line
        let fieldLength: Int
        if let colon = view.firstIndex(of: UInt8(ascii: ":")) {
            fieldLength = colon - view.startIndex
            value.moveReaderIndex(forwardBy: fieldLength + 1)
            if value.readableBytesView.first == UInt8(ascii: " ") { value.moveReaderIndex(forwardBy: 1) }
        } else {
            fieldLength = view.count
            value.moveReaderIndex(forwardBy: fieldLength)
        }
        switch (fieldLength, view.first) {
        case (4, UInt8(ascii: "d")) where Self.field(view, is: "data"):
            if var joined = data {
                joined.writeInteger(UInt8(ascii: "\n"))
                joined.writeImmutableBuffer(value)
                data = joined
            } else {
                data = value
            }
        case (5, UInt8(ascii: "e")) where Self.field(view, is: "event"):
            event = String(buffer: value)
        case (2, UInt8(ascii: "i")) where Self.field(view, is: "id"):
            id = String(buffer: value)
        default:
            break
        }
    }

    private static func field(_ view: ByteBufferView, is name: StaticString) -> Bool {
        var index = view.startIndex
        for offset in 0..<name.utf8CodeUnitCount {
            guard view[index] == name.utf8Start[offset] else { return false }
            index = view.index(after: index)
        }
        return true
    }

    /// The next line without its terminator, as a slice of the buffer, or nil if no complete line is buffered.
    private mutating func nextLine() -> ByteBuffer? {
        guard let length = buffer.withUnsafeReadableBytes(Self.lineLength) else { return nil }
        var terminatorLength = 1
        if buffer.getInteger(at: buffer.readerIndex + length, as: UInt8.self) == UInt8(ascii: "\r") {
            guard length + 1 < buffer.readableBytes else {
                // A lone `\r` at the end may be the first half of `\r\n`: wait for the next byte.
                return nil
            }
            if buffer.getInteger(at: buffer.readerIndex + length + 1, as: UInt8.self) == UInt8(ascii: "\n") {
                terminatorLength = 2
            }
        }
        let line = buffer.readSlice(length: length) ?? ByteBuffer()
        buffer.moveReaderIndex(forwardBy: terminatorLength)
        return line
    }

    /// The offset of the first `\n` or `\r` in `bytes`, eight bytes at a time (a chunk's line is most of it).
    private static func lineLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let end = ByteWord.firstFlagged(in: bytes, from: 0) { word in
            ByteWord.bytes(equalTo: UInt8(ascii: "\n"), in: word) | ByteWord.bytes(equalTo: UInt8(ascii: "\r"), in: word)
        }
        return end < bytes.count ? end : nil
    }
}

extension ServerSentEvent {
    /// The event with its data as text.
    public init(_ raw: SSEParser.RawEvent) {
        self.init(event: raw.event, data: String(buffer: raw.data), id: raw.id)
    }
}
