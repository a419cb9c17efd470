@_spi(Testing) import ArchwayProviders
import ArchwayCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOSSL
import Testing

/// Whatever bytes an upstream sends, in whatever pieces, and whenever it hangs up: the exchange's caller
/// gets exactly one answer (a head or an error), a body it was given always ends, and nothing traps.
/// The bytes are parsed by NIO's llhttp; what is Archway's is the state machine over the parts.
/// Every replay runs twice, the body streamed and the body wanted whole, which must end the same way.
@Suite struct UpstreamConnectionHandlerTests {
    static func replay(_ pieces: [[UInt8]]) async throws -> UpstreamConnectionReplay.Outcome {
        let streamed = try await UpstreamConnectionReplay.replay(pieces)
        let collected = try await UpstreamConnectionReplay.replay(pieces, collectLimit: 1 << 20)
        #expect(collected == streamed, "the body wanted whole ended otherwise than the streamed one")
        return streamed
    }

    static func response(_ body: String, chunked: Bool = false, extraHeaders: String = "") -> [UInt8] {
        if chunked {
            let size = String(body.utf8.count, radix: 16)
            return Array("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\(extraHeaders)\r\n\(size)\r\n\(body)\r\n0\r\n\r\n".utf8)
        }
        return Array("HTTP/1.1 200 OK\r\ncontent-length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)".utf8)
    }

    static func split(_ bytes: [UInt8], using random: inout SplitMix64) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let length = 1 + Int(random.next() % UInt64(max(1, min(bytes.count - index, 24))))
            pieces.append(Array(bytes[index..<min(bytes.count, index + length)]))
            index += length
        }
        return pieces
    }

    @Test func wellFormedAnswersArriveWholeHoweverTheyAreSplit() async throws {
        var random = SplitMix64(seed: 7)
        let answers: [([UInt8], String)] = [
            (Self.response(#"{"ok":true}"#), #"{"ok":true}"#),
            (Self.response("data: a\n\ndata: [DONE]\n\n", chunked: true), "data: a\n\ndata: [DONE]\n\n"),
            (Array("HTTP/1.1 100 Continue\r\n\r\n".utf8) + Self.response("after continue"), "after continue"),
            (Array("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end".utf8), "until the end"),
        ]
        for (bytes, body) in answers {
            for _ in 0..<25 {
                let outcome = try await Self.replay(Self.split(bytes, using: &random))
                #expect(outcome.answered && outcome.status == 200)
                #expect(outcome.body.map { String(decoding: $0, as: UTF8.self) } == body)
            }
        }
    }

    @Test func aTruncatedAnswerIsAnErrorNeverAShortBody() async throws {
        var random = SplitMix64(seed: 3)
        let chunked = Self.response(#"{"choices":[{"message":{"content":"hello"}}]}"#, chunked: true)
        let truncated: [[UInt8]] = [
            Array("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".utf8),
            Array(chunked.prefix(chunked.count - 5)),
            Array(chunked.prefix(chunked.count - 1)),
        ]
        for bytes in truncated {
            for _ in 0..<10 {
                let outcome = try await Self.replay(Self.split(bytes, using: &random))
                #expect(outcome.answered && outcome.status == 200 && outcome.body == nil)
                #expect(outcome.bodyError == .remoteConnectionClosed)
            }
        }
        // Cut before the head: the caller gets the error, not an answer, and a connection failure (one
        // the transport retries), not a cut answer.
        let outcome = try await Self.replay([Array("HTTP/1.1 200 OK\r\ncontent-le".utf8)])
        #expect(outcome.answered && outcome.headError == .closedBeforeAnswer)
    }

    @Test func brokenAnswersFailTheExchangeAndNeverHang() async throws {
        var random = SplitMix64(seed: 11)
        let valid = Self.response(#"{"choices":[{"message":{"content":"hello"}}]}"#, chunked: true)
        var cases: [[UInt8]] = [
            [],
            Array("garbage\r\n\r\n".utf8),
            Array("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".utf8),
            Array("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".utf8),
            Self.response("one") + Self.response("an unsolicited second answer"),
            Array("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n".utf8),
            Array(valid.prefix(valid.count / 2)),
        ]
        // Mutations of a valid chunked answer: flipped, dropped and duplicated bytes.
        for _ in 0..<1_500 {
            var bytes = valid
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(bytes[at], at: at)
                }
                if bytes.isEmpty { break }
            }
            cases.append(bytes)
        }
        for bytes in cases {
            let outcome = try await Self.replay(Self.split(bytes, using: &random))
            // Exactly one answer: a head, or an error for the caller.
            #expect(outcome.answered)
            #expect((outcome.status != nil) != (outcome.headError != nil))
            #expect(!outcome.foreignError)
            if outcome.status != nil { #expect((outcome.body != nil) != (outcome.bodyError != nil)) }
        }
    }
}
