import ArchwayCore
@testable import ArchwayWire
import NIOCore
import Testing

@Suite struct JSONScannerTests {
    /// Scans `text` and returns what `body` reads from it.
    func scan<Value>(_ text: String, _ body: (JSONScanner) throws -> Value) throws -> Value {
        var text = text
        return try text.withUTF8 { try body(JSONScanner(UnsafeRawBufferPointer($0))) }
    }

    /// The members of the top-level object, as key text and raw value text.
    func members(_ text: String) throws -> [(String, String)] {
        try scan(text) { scanner in
            var result: [(String, String)] = []
            try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[member.key]), as: UTF8.self)
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[member.value]), as: UTF8.self)
                result.append((key, value))
            }
            return result
        }
    }

    @Test func findsTopLevelMembersAndSkipsNestedValues() throws {
        let text = #" { "a" : {"b":[1,{"c":"}]"}],"d":"x\"y"} , "model":"gpt" ,"n":-1.5e3,"t":true,"f":false,"z":null,"e":{},"l":[] } "#
        let found = try members(text)
        #expect(found.map(\.0) == ["a", "model", "n", "t", "f", "z", "e", "l"])
        #expect(found[0].1 == #"{"b":[1,{"c":"}]"}],"d":"x\"y"}"#)
        #expect(found[1].1 == #""gpt""#)
        #expect(found[2].1 == "-1.5e3")
        #expect(found[6].1 == "{}")
        #expect(found[7].1 == "[]")
    }

    @Test func readsScalars() throws {
        try scan(#"{"s":"a\n\u00e9\ud83d\ude00\"\\\/","i":42,"neg":-7,"big":99999999999999999999,"f":12.0,"d":0.25,"t":true,"no":false,"z":null}"#) { scanner in
            var values: [String: Range<Int>] = [:]
            try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                values[String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[member.key]), as: UTF8.self)] = member.value
            }
            #expect(scanner.string(values["s"]!) == "a\né😀\"\\/")
            #expect(scanner.int(values["i"]!) == 42)
            #expect(scanner.int(values["neg"]!) == -7)
            #expect(scanner.int(values["big"]!) == nil)
            #expect(scanner.int(values["f"]!) == 12)
            #expect(scanner.int(values["d"]!) == nil)
            #expect(scanner.double(values["d"]!) == 0.25)
            #expect(scanner.bool(values["t"]!) == true)
            #expect(scanner.bool(values["no"]!) == false)
            #expect(scanner.isNull(values["z"]!))
            #expect(scanner.string(values["i"]!) == nil)
            #expect(scanner.bool(values["s"]!) == nil)
        }
    }

    @Test func checksNumbersAgainstJSONsGrammar() throws {
        let valid = ["0", "-0", "7", "-12", "0.5", "10.25", "1e3", "1E-3", "2.5e+10"]
        let invalid = ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1-2", "--1", "0x1"]
        for text in valid + invalid {
            try scan(text) { scanner in
                #expect(scanner.isStrictNumber(0..<scanner.bytes.count) == valid.contains(text), "\(text)")
            }
        }
    }

    @Test func matchesEscapedKeysByTheirText() throws {
        try scan(#"{"mod\u0065l":"x","modelx":1}"#) { scanner in
            var hits = 0
            try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
                if scanner.key(of: member, is: "model") { hits += 1 }
            }
            #expect(hits == 1)
        }
    }

    @Test func iteratesArrays() throws {
        try scan(#"[ {"a":1} , "x" ,3 ,[ ] ]"#) { scanner in
            var elements: [String] = []
            try scanner.forEachElement(of: try scanner.value(at: 0)) { range in
                elements.append(String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self))
            }
            #expect(elements == [#"{"a":1}"#, #""x""#, "3", "[ ]"])
        }
    }

    @Test(arguments: [
        #"{"a":1"#, #"{"a" 1}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":"x}"#, #"{a:1}"#, #"[1,2"#, #"{"a":tru}"#, "", "   ", #"{"a":[1,2}"#,
    ])
    func rejectsTruncatedOrMalformedDocuments(_ text: String) throws {
        #expect(throws: JSONScanner.Failure.self) {
            try scan(text) { scanner in
                let value = try scanner.value(at: 0)
                if scanner.bytes[value.lowerBound] == UInt8(ascii: "{") {
                    try scanner.forEachMember(of: value) { _ in }
                } else {
                    try scanner.forEachElement(of: value) { _ in }
                }
            }
        }
    }

    @Test func rejectsNonObjectsWhereAnObjectIsExpected() throws {
        #expect(throws: JSONScanner.Failure.self) {
            try scan(#"["model"]"#) { scanner in try scanner.forEachMember(of: try scanner.value(at: 0)) { _ in } }
        }
    }

    /// Skipping a value validates it: the byte relay forwards only JSON, whatever a lazier decoder let
    /// through in values it never read (found by the fuzzer in Fuzz/).
    @Test(arguments: [
        "{\"a\":{\"b\":\"raw \u{01} control\"}}", #"{"a":{"b":"bad \q escape"}}"#, #"{"a":{"b":"\u12G4"}}"#,
        #"{"a":[1.2.3]}"#, #"{"a":[01]}"#, #"{"a":[1.]}"#, #"{"a":[-]}"#, #"{"a":[1e]}"#, #"{"a":[+1]}"#,
        #"{"a":[}"#, #"{"a":{"b":1]}"#, #"{"a":{"b" 1}}"#, #"{"a":[1 2]}"#, #"{"a":{"b":1,}}"#,
    ])
    func validatesWhatItSkips(_ text: String) throws {
        #expect(throws: JSONScanner.Failure.self) {
            try scan(text) { scanner in _ = try scanner.value(at: 0) }
        }
    }

    @Test func acceptsWhatJSONAllowsInSkippedValues() throws {
        let text = #"{"a":{"b":[0,-0.5,1e10,2E-3,"\u00e9\n\"",true,false,null,{},[]]},"c":"é"}"#
        #expect(try members(text).map(\.0) == ["a", "c"])
    }

    /// Strings are scanned eight bytes at a time: every stop (quote, backslash, control character) at
    /// every offset around the word boundaries, against a byte-at-a-time reference.
    @Test func scansStringsAsTheByteAtATimeGrammarDoes() throws {
        let alphabet: [UInt8] = [
            UInt8(ascii: "a"), UInt8(ascii: " "), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"),
            UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "F"), 0x00, 0x01, 0x1F, 0x20, 0x21, 0x7F, 0x80, 0xC3, 0xA9, 0xFF,
        ]
        var generator = SplitMix64(seed: 16)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 40)
            var document: [UInt8] = [UInt8(ascii: "\"")]
            for _ in 0..<length {
                // Mostly plain bytes, so that stops land at every offset of a word, not only the first.
                let pick = generator.next()
                document.append(pick % 4 == 0 ? alphabet[Int(pick / 4 % UInt64(alphabet.count))] : UInt8(ascii: "x"))
            }
            if generator.next() % 2 == 0 { document.append(UInt8(ascii: "\"")) }
            let expected = Self.referenceStringEnd(document)
            let scanned: Int? = document.withUnsafeBytes { bytes in
                try? JSONScanner(bytes).value(at: 0).upperBound
            }
            #expect(scanned == expected, "\(document)")
        }
    }

    /// JSON's string grammar, one byte at a time: the index after the closing quote, or nil if invalid.
    static func referenceStringEnd(_ bytes: [UInt8]) -> Int? {
        var index = 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""): return index + 1
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { return nil }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    let hex = Set("0123456789abcdefABCDEF".utf8)
                    guard index + 6 <= bytes.count, bytes[index + 2..<index + 6].allSatisfy(hex.contains) else { return nil }
                    index += 6
                default: return nil
                }
            case 0..<0x20: return nil
            default: index += 1
            }
        }
        return nil
    }

    /// The ASCII shortcut of string validation against the standard library's own, on ASCII, valid
    /// multi-byte and broken UTF-8.
    @Test func validatesStringsAsTheStandardLibraryDoes() {
        let alphabet: [UInt8] = [UInt8(ascii: "a"), 0x00, 0x7F, 0x80, 0xBF, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xFF]
        var generator = SplitMix64(seed: 17)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 12)
            let bytes: [UInt8] = (0..<length).map { _ in
                let pick = generator.next()
                return pick % 3 == 0 ? alphabet[Int(pick / 3 % UInt64(alphabet.count))] : UInt8(ascii: "x")
            }
            bytes.withUnsafeBytes { raw in
                #expect(JSONScanner.string(validating: raw) == String(validating: raw, as: UTF8.self), "\(bytes)")
            }
        }
    }

    @Test func boundsNesting() throws {
        let deep = String(repeating: "[", count: JSONScanner.maxDepth + 1) + String(repeating: "]", count: JSONScanner.maxDepth + 1)
        #expect(throws: JSONScanner.Failure.self) { try scan(deep) { scanner in _ = try scanner.value(at: 0) } }
        let fine = String(repeating: "[", count: JSONScanner.maxDepth) + String(repeating: "]", count: JSONScanner.maxDepth)
        #expect(try scan(fine) { scanner in try scanner.value(at: 0).count } == fine.utf8.count)
    }
}

@Suite struct ClientBodyTests {
    @Test func aByteOrderMarkIsDropped() throws {
        var bytes = ByteBuffer(bytes: [0xEF, 0xBB, 0xBF])
        bytes.writeString(#"{"model":"m"}"#)
        #expect(String(buffer: try WireJSON.clientBody(bytes)) == #"{"model":"m"}"#)
    }

    @Test func aBodyThatIsNotUTF8IsInvalidJSON() {
        // Invalid UTF-8 in a value the decoder skips (found by the fuzzer): never relayed.
        var bytes = ByteBuffer(string: #"{"model":"m","x":""#)
        bytes.writeBytes([0x81])
        bytes.writeString(#""}"#)
        #expect(throws: GatewayError.invalidJSON("the body is not UTF-8")) { try WireJSON.clientBody(bytes) }
    }
}

@Suite struct DuplicateKeyTests {
    func duplicate(_ text: String, depth: Int = JSONScanner.duplicateKeyDepth) throws -> String? {
        var text = text
        return try text.withUTF8 { utf8 in
            let scanner = JSONScanner(UnsafeRawBufferPointer(utf8))
            return try scanner.duplicateKey(in: try scanner.value(at: 0), depth: depth)
        }
    }

    @Test func findsAKeyTwiceInOneObjectAtAnyLevelTheGatewayReads() throws {
        #expect(try duplicate(#"{"model":"m","stream":false,"stream":true}"#) == "stream")
        #expect(try duplicate(#"{"model":"m","messages":[{"role":"user","content":"a","content":"b"}]}"#) == "content")
        #expect(try duplicate(#"{"messages":[{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f","name":"g"}}]}]}"#) == "name")
        // An escape does not hide a key: `\u0073tream` is `stream`.
        #expect(try duplicate(#"{"stream":false,"\u0073tream":true}"#) == "stream")
        // Past the inline key buffer.
        let many = (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(try duplicate("{\(many),\"k3\":0}") == "k3")
    }

    @Test func distinctKeysAndTheSameKeyInDifferentObjectsPass() throws {
        #expect(try duplicate(#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#) == nil)
        #expect(try duplicate(#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"ab":1,"ba":2}"#) == nil)
        #expect(try duplicate(#"[1,"x",null,{}]"#) == nil)
        #expect(try duplicate(#""just a string""#) == nil)
    }

    @Test func looksNoDeeperThanItsDepth() throws {
        let deep = #"{"a":{"b":{"c":{"d":{"e":{"f":{"x":1,"x":2}}}}}}}"#
        #expect(try duplicate(deep) == nil)
        #expect(try duplicate(deep, depth: 7) == "x")
    }

    @Test func aClientBodyWithADuplicateKeyIsInvalidJSON() {
        let body = ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false,"stream":true}"#)
        #expect(throws: GatewayError.invalidJSON(#"the key "stream" occurs twice in one object; send each key once"#)) {
            try OpenAIChatRequest.decode(from: body)
        }
        #expect(throws: GatewayError.self) {
            try WireJSON.decodeRequest(OpenAIEmbeddingRequest.self, from: ByteBuffer(string: #"{"model":"m","input":"a","input":"b"}"#))
        }
    }
}

@Suite struct RequestErrorTests {
    func error(_ body: String) -> GatewayError? {
        do {
            _ = try OpenAIChatRequest.decode(from: ByteBuffer(string: body))
            return nil
        } catch {
            return error
        }
    }

    static let hi = #""messages":[{"role":"user","content":"hi"}]"#

    @Test func aNumberNoIntegerHoldsIsNamedNotCalledInvalidJSON() {
        for body in [#"{"model":"m","temperature":0.7,"max_tokens":1e30,\#(Self.hi)}"#, #"{"model":"m","max_tokens":99999999999999999999999,\#(Self.hi)}"#] {
            let error = error(body)
            #expect(error?.code == "invalid_value" && error?.param == "max_tokens", "\(body)")
        }
        let surrogate = error(#"{"model":"m","messages":[{"role":"user","content":"\ud800"}]}"#)
        #expect(surrogate?.code == "invalid_value" && surrogate?.message.contains("surrogate") == true)
    }

    @Test func contentOfTheWrongTypeSaysWhatItMayBe() {
        let error = error(#"{"model":"m","messages":[{"role":"user","content":5}]}"#)
        #expect(error?.param == "messages[0].content")
        #expect(error?.message.contains("expected a string or an array of content parts") == true)
        // A bad part is named as the part.
        #expect(self.error(#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}"#)?.param == "messages[0].content[0]")
        #expect(self.error(#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#) == nil)
    }

    @Test func aNullBodyIsNamedAsTheBody() {
        let error = error("null")
        #expect(error?.param == nil && error?.message.contains("'body'") == true)
    }
}
