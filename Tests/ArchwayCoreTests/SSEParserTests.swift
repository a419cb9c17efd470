import ArchwayCore
import NIOCore
import Testing

@Suite struct SSEParserTests {
    static let stream = "event: message_start\ndata: {\"a\":1}\n\n: keep-alive comment\n\ndata: line one\ndata: line two\n\r\ndata:no-space\r\n\r\ndata: [DONE]\n\n"
    static let expected = [
        ServerSentEvent(event: "message_start", data: "{\"a\":1}"),
        ServerSentEvent(data: "line one\nline two"),
        ServerSentEvent(data: "no-space"),
        ServerSentEvent(data: "[DONE]"),
    ]

    func parse(pieces: [String]) -> [ServerSentEvent] {
        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for piece in pieces {
            parser.append(ByteBuffer(string: piece))
            while let event = parser.nextEvent() { events.append(event) }
        }
        if let last = parser.finish() { events.append(last) }
        return events
    }

    @Test func parsesWholeStream() {
        #expect(parse(pieces: [Self.stream]) == Self.expected)
    }

    @Test(arguments: [1, 2, 3, 5, 7, 13])
    func parsesAcrossEveryChunkBoundary(size: Int) {
        let bytes = Array(Self.stream.utf8)
        let pieces = stride(from: 0, to: bytes.count, by: size).map { String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self) }
        #expect(parse(pieces: pieces) == Self.expected)
    }

    /// One byte-order mark at the stream's start is dropped, however the reads split it; a later one is data.
    @Test(arguments: [1, 2, 3, 4, 64])
    func aLeadingByteOrderMarkIsDropped(size: Int) {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: Hel\n\ndata: \u{FEFF}lo\n\n".utf8)
        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for start in stride(from: 0, to: bytes.count, by: size) {
            parser.append(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)]))
            while let event = parser.nextEvent() { events.append(event) }
        }
        #expect(events == [ServerSentEvent(data: "Hel"), ServerSentEvent(data: "\u{FEFF}lo")])
        // Only a whole mark: a stream whose first bytes merely start like one keeps them.
        var partial = SSEParser()
        partial.append(ByteBuffer(bytes: [0xEF, 0xBB] + Array("data: x\n\ndata: y\n\n".utf8)))
        #expect(partial.nextEvent() == ServerSentEvent(data: "y"))
    }

    @Test func splitCarriageReturnLineFeedIsOneLineEnd() {
        // "\r" at the end of one read and "\n" at the start of the next must not produce an empty line.
        #expect(parse(pieces: ["data: a\r", "\ndata: b\r\n", "\r\n"]) == [ServerSentEvent(data: "a\nb")])
    }

    /// Line ends are searched eight bytes at a time: each kind of terminator at every offset of a word.
    @Test func findsLineEndsAtEveryOffset() {
        for length in 0..<24 {
            for terminator in ["\n", "\r\n", "\r"] {
                let value = String(repeating: "x", count: length)
                let stream = "data: \(value)\(terminator)\(terminator)data: after\(terminator)\(terminator)"
                #expect(parse(pieces: [stream]) == [ServerSentEvent(data: value), ServerSentEvent(data: "after")], "\(length) \(terminator.debugDescription)")
            }
        }
    }

    @Test func eventWithoutFinalBlankLineIsDeliveredByFinish() {
        #expect(parse(pieces: ["data: tail"]) == [ServerSentEvent(data: "tail")])
    }

    @Test func rawEventsCarryTheDataAsBytes() {
        var parser = SSEParser()
        parser.append(ByteBuffer(string: "event: delta\ndata: {\"a\":1}\r\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n"))
        var events: [(String?, String)] = []
        while let event = parser.nextRawEvent() { events.append((event.event, String(buffer: event.data))) }
        #expect(events.map(\.0) == ["delta", nil, nil])
        #expect(events.map(\.1) == ["{\"a\":1}", "one\ntwo", "[DONE]"])
    }

    @Test func multiByteCharactersSplitAcrossReads() {
        let text = "data: héllo wörld ✓\n\n"
        let bytes = Array(text.utf8)
        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for byte in bytes {
            parser.append(ByteBuffer(bytes: [byte]))
            while let event = parser.nextEvent() { events.append(event) }
        }
        #expect(events == [ServerSentEvent(data: "héllo wörld ✓")])
    }
}
