import ArchwayCore
@testable import ArchwayPolicy
import Foundation
import Testing

@Suite struct RedactionTests {
    let scanner = try! PIIScanner()

    func redacted(_ text: String, session: inout RedactionSession) -> String {
        session.redact(text, findings: scanner.scan(text))
    }

    @Test func theSameValueGetsTheSamePlaceholderAndAnswersAreRestored() {
        let texts = ["Email ada@example.com or bob@example.com", "Again: ada@example.com, card 4111 1111 1111 1111"]
        var session = RedactionSession(mode: .redact, texts: texts)
        let first = redacted(texts[0], session: &session)
        let second = redacted(texts[1], session: &session)
        #expect(first == "Email [[EMAIL_1]] or [[EMAIL_2]]")
        #expect(second == "Again: [[EMAIL_1]], card [[CREDIT_CARD_1]]")
        #expect(session.kinds == [.email, .creditCard] && session.findings == 4)
        #expect(session.restore("Sure, I wrote to [[EMAIL_1]] and charged [[CREDIT_CARD_1]] ([[EMAIL_9]] unknown)")
            == "Sure, I wrote to ada@example.com and charged 4111 1111 1111 1111 ([[EMAIL_9]] unknown)")
    }

    @Test func placeholdersNeverCollideWithTheClientsText() {
        let texts = ["My template uses [[EMAIL_1]] literally; mail ada@example.com"]
        var session = RedactionSession(mode: .redact, texts: texts)
        let out = redacted(texts[0], session: &session)
        #expect(out.hasPrefix("My template uses [[EMAIL_1]] literally; mail [[EMAIL_1_"))
        // The client's own text is left alone on the way back; only the real placeholder is restored.
        #expect(session.restore(out) == texts[0])
    }

    @Test func maskPlaceholdersArePlainEvenWhenTheClientWritesBrackets() {
        let texts = ["My template uses [[EMAIL]] literally; mail ada@example.com"]
        var session = RedactionSession(mode: .mask, texts: texts)
        #expect(redacted(texts[0], session: &session) == "My template uses [[EMAIL]] literally; mail [[EMAIL]]")
    }

    /// Found by the fuzzer: a client's "[" right before a value made "[[[EMAIL_1]]", which was not restored.
    @Test func bracketsAroundValuesDoNotHidePlaceholders() {
        for text in ["see [ada@example.com] or [[ada@example.com]]", "[10.0.0.1", "x[[[192.168.0.1]]]"] {
            var session = RedactionSession(mode: .redact, texts: [text])
            let out = redacted(text, session: &session)
            #expect(!out.contains("ada@") && !out.contains("10.0.0.1") && !out.contains("192.168"))
            #expect(session.restore(out) == text)
            let characters = Array(out)
            for cut in 0...characters.count {
                var restorer = session.streamRestorer()
                let streamed = restorer.feed(String(characters[..<cut])) + restorer.feed(String(characters[cut...])) + restorer.finish()
                #expect(streamed == text, "cut at \(cut)")
            }
        }
    }

    /// Found by the fuzzer: a combining mark right after a value fused with the placeholder's closing
    /// bracket into one character, so a character-wise search never found "]]". Restoration reads bytes.
    @Test func aCombiningMarkAfterAValueDoesNotHideItsPlaceholder() {
        let text = "host 10.0.0.1\u{05BB} and [[EMAIL_1_x]] and ada@example.com\u{0301}!"
        var session = RedactionSession(mode: .redact, texts: [text])
        let out = redacted(text, session: &session)
        #expect(!out.contains("10.0.0.1") && !out.contains("ada@"))
        #expect(session.restore(out) == text)
        var restorer = session.streamRestorer()
        let bytes = Array(out.utf8)
        var streamed = ""
        var index = 0
        while index < bytes.count {
            // Pieces cut at scalar boundaries, three scalars at a time.
            var end = index
            var scalars = 0
            while end < bytes.count, scalars < 3 {
                end += 1
                while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
                scalars += 1
            }
            streamed += restorer.feed(String(decoding: bytes[index..<end], as: UTF8.self))
            index = end
        }
        streamed += restorer.finish()
        #expect(streamed == text)
    }

    @Test func maskIsIrreversible() {
        var session = RedactionSession(mode: .mask, texts: [])
        #expect(redacted("ada@example.com and 192.168.0.1", session: &session) == "[[EMAIL]] and [[IP_ADDRESS]]")
        #expect(session.values.isEmpty)
    }

    /// Every way of cutting an answer into two or three pieces restores to the same text, and nothing
    /// that cannot start a placeholder is held back.
    @Test func streamsRestoreAcrossEverySplit() {
        var session = RedactionSession(mode: .redact, texts: ["x"])
        _ = redacted("ada@example.com 4111 1111 1111 1111 [x", session: &session)
        let answer = "To [[EMAIL_1]]: card [[CREDIT_CARD_1]] ok [[NOT_OURS]] [ [[EMAIL_1]]"
        let expected = session.restore(answer)
        #expect(expected == "To ada@example.com: card 4111 1111 1111 1111 ok [[NOT_OURS]] [ ada@example.com")
        let characters = Array(answer)
        for first in 0...characters.count {
            for second in first...characters.count {
                var restorer = session.streamRestorer()
                var out = restorer.feed(String(characters[..<first]))
                out += restorer.feed(String(characters[first..<second]))
                out += restorer.feed(String(characters[second...]))
                out += restorer.finish()
                #expect(out == expected, "split at \(first), \(second)")
            }
        }
        // Text with no placeholder start goes through at once.
        var restorer = session.streamRestorer()
        #expect(restorer.feed("plain text, no brackets") == "plain text, no brackets")
        #expect(restorer.feed("held [") == "held ")
        #expect(restorer.feed("x]") == "[x]")
    }

    /// Text held back as a possible placeholder goes out before a tool call that follows it, as in the
    /// whole answer: an Anthropic client would otherwise get a text block after the tool's.
    @Test func heldTextGoesOutBeforeAToolCall() {
        var session = RedactionSession(mode: .redact, texts: ["x"])
        _ = redacted("ada@example.com", session: &session)
        var transformer = PlaceholderRestoration(session: session).chunkTransformer()
        var text = ChatChunk.Choice(index: 0)
        text.content = "Use the list [["
        let first = transformer.transform(ChatChunk(id: "c", model: "m", created: 1, choices: [text]))
        #expect(first.choices.first?.content == "Use the list ")
        var call = ChatChunk.Choice(index: 0)
        call.toolCalls = [ChatChunk.ToolCallDelta(index: 0, id: "t", name: "lookup", arguments: "{}")]
        let second = transformer.transform(ChatChunk(id: "c", model: "m", created: 1, choices: [call]))
        #expect(second.choices.first?.content == "[[")
        #expect(second.choices.first?.toolCalls.first?.name == "lookup")
        #expect(transformer.finish() == nil, "nothing left to come after the call")
    }

    @Test func randomSplitsOfStreamedChunksAndToolArguments() {
        var session = RedactionSession(mode: .redact, texts: ["x"])
        _ = redacted("ada@example.com +1 415 555 2671", session: &session)
        let restoration = PlaceholderRestoration(session: session)
        let content = "Call [[PHONE_1]] or mail [[EMAIL_1]]."
        let arguments = #"{"to":"[[EMAIL_1]]","phone":"[[PHONE_1]]"}"#
        var random = SplitMix64(seed: 7)
        for _ in 0..<300 {
            var transformer = restoration.chunkTransformer()
            var text = ""
            var args = ""
            var rest = Array(content)
            var restArgs = Array(arguments)
            var chunks: [ChatChunk] = []
            while !rest.isEmpty || !restArgs.isEmpty {
                let take = min(rest.count, random.nextIndex(below: 6))
                let takeArgs = min(restArgs.count, random.nextIndex(below: 6))
                var choice = ChatChunk.Choice(index: 0, content: String(rest.prefix(take)))
                if takeArgs > 0 { choice.toolCalls = [ChatChunk.ToolCallDelta(index: 0, arguments: String(restArgs.prefix(takeArgs)))] }
                rest.removeFirst(take)
                restArgs.removeFirst(takeArgs)
                chunks.append(ChatChunk(id: "c", model: "m", created: 1, choices: [choice]))
            }
            chunks.append(ChatChunk(id: "c", model: "m", created: 1, choices: [ChatChunk.Choice(index: 0, finishReason: .stop)]))
            for chunk in chunks {
                let out = transformer.transform(chunk)
                for choice in out.choices {
                    text += choice.content ?? ""
                    args += choice.toolCalls.compactMap(\.arguments).joined()
                }
            }
            #expect(text == "Call +1 415 555 2671 or mail ada@example.com.")
            #expect(args == #"{"to":"ada@example.com","phone":"+1 415 555 2671"}"#)
        }
    }

    /// A value with characters JSON escapes (a PEM key's newlines, quotes, backslashes) goes back into a
    /// tool call's arguments escaped: the arguments stay valid JSON holding the client's value.
    @Test func argumentsGetTheirValuesBackEscapedForJSON() throws {
        let secret = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\"q\\b\u{1}\n-----END RSA PRIVATE KEY-----"
        var session = RedactionSession(mode: .redact, texts: [secret])
        let placeholder = session.redact(secret, findings: [PIIFinding(kind: .secret, range: 0..<secret.utf8.count)])
        let restoration = PlaceholderRestoration(session: session)
        let arguments = #"{"key":"\#(placeholder)"}"#
        let message = ChatMessage(role: .assistant, toolCalls: [ToolCall(id: "t", name: "store", arguments: arguments)])
        let answer = restoration.transform(ChatResponse(id: "c", model: "m", created: 1, choices: [.init(index: 0, message: message, finishReason: .toolCalls)], usage: nil))
        let restored = try #require(answer.choices.first?.message.toolCalls.first?.arguments)
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(restored.utf8))
        #expect(decoded["key"] == secret)
        // Streamed, split anywhere: the same.
        for cut in 0...arguments.count {
            var transformer = restoration.chunkTransformer()
            var streamed = ""
            for piece in [String(arguments.prefix(cut)), String(arguments.dropFirst(cut))] {
                var choice = ChatChunk.Choice(index: 0)
                choice.toolCalls = [ChatChunk.ToolCallDelta(index: 0, arguments: piece)]
                streamed += transformer.transform(ChatChunk(id: "c", model: "m", created: 1, choices: [choice])).choices.flatMap(\.toolCalls).compactMap(\.arguments).joined()
            }
            let end = transformer.transform(ChatChunk(id: "c", model: "m", created: 1, choices: [ChatChunk.Choice(index: 0, finishReason: .toolCalls)]))
            streamed += end.choices.flatMap(\.toolCalls).compactMap(\.arguments).joined()
            #expect(streamed == restored, "cut at \(cut)")
        }
        // Message text gets the value as it was.
        #expect(session.restore("key: \(placeholder)") == "key: " + secret)
    }

    /// An answer the request asked to be JSON (`response_format`) gets its values back escaped, as tool-call
    /// arguments do: a PEM key's newlines or a `\` would otherwise make it invalid JSON.
    @Test func jsonAnswersGetTheirValuesBackEscaped() throws {
        let secret = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\"q\\b\n-----END RSA PRIVATE KEY-----"
        var session = RedactionSession(mode: .redact, texts: [secret])
        let placeholder = session.redact(secret, findings: [PIIFinding(kind: .secret, range: 0..<secret.utf8.count)])
        let content = #"{"key":"\#(placeholder)"}"#
        let message = ChatMessage(role: .assistant, content: [.text(content)])
        let response = ChatResponse(id: "c", model: "m", created: 1, choices: [.init(index: 0, message: message, finishReason: .stop)], usage: nil)
        let json = PlaceholderRestoration(session: session, contentIsJSON: true).transform(response)
        let restored = try #require(json.choices.first?.message.text)
        #expect(try JSONDecoder().decode([String: String].self, from: Data(restored.utf8))["key"] == secret)
        // Plain text gets the value as it was.
        let plain = PlaceholderRestoration(session: session).transform(response)
        #expect(plain.choices.first?.message.text == #"{"key":"\#(secret)"}"#)
    }
}

@Suite struct ToolArgumentRedactionTests {
    /// A value the arguments held as a number is redacted into a string: the arguments stay valid JSON
    /// (an Anthropic provider got `{}` for invalid ones, an OpenAI one invalid arguments).
    @Test func placeholdersOutsideStringsAreQuoted() throws {
        let quoted = ChatRequest.quotingBarePlaceholders(#"{"card": [[CREDIT_CARD_1]], "ip": "[[IP_ADDRESS_1]]", "n": [[1]], "s": "a \"[[X]]\" \\", "m": [[EMAIL]], "l": [[[PHONE_2_k3x]]]}"#)
        #expect(quoted == #"{"card": "[[CREDIT_CARD_1]]", "ip": "[[IP_ADDRESS_1]]", "n": [[1]], "s": "a \"[[X]]\" \\", "m": "[[EMAIL]]", "l": ["[[PHONE_2_k3x]]"]}"#)
        _ = try JSONDecoder().decode(JSONValue.self, from: Data(quoted.utf8))
        // Text that is no JSON document is left as it is.
        #expect(ChatRequest.quotingBarePlaceholders("card [[CREDIT_CARD_1]]") == "card [[CREDIT_CARD_1]]")
    }
}
