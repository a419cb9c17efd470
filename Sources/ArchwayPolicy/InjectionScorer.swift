/// Scores how much a text reads as a prompt injection, in 0...1.
///
/// How it scores: the text is normalised first (invisible and zero-width characters removed, lower-cased,
/// leetspeak undone inside words that mix letters and digits, letters spaced out one by one joined),
/// and base64 runs that decode to text are scored too. Rules then look for the shapes of known attacks:
/// instruction overrides ("ignore … previous … instructions", in English and ten other languages), role
/// and delimiter spoofing (`system:` lines, chat-template tokens), system-prompt extraction, jailbreak
/// personas ("developer mode", "no restrictions"), instructions addressed to an AI inside documents, and
/// exfiltration requests. Each rule that matches contributes its weight; evasions found alongside a
/// match add theirs; the score is their noisy-OR, 1 − Π(1 − wᵢ). Words like "ignore", "system" or
/// "instructions" on their own match nothing: rules need the words in attack order, close together.
public struct InjectionScorer: Sendable {
    public struct Result: Sendable, Hashable {
        public var score: Double
        /// The rules and evasions that matched (bounded names, for spans).
        public var reasons: [String]
    }

    struct Rule: Sendable {
        var name: String
        var weight: Double
        /// Word slots in order; at most `gap` other words between consecutive slots.
        var slots: [Set<String>]
        var gap = 3
        /// A match with a first-person possessive among its words ("ignore *my* previous instructions")
        /// does not count.
        var notOwn = false
    }

    /// Which (rule, slot) pairs a word fills, as bits: computed once, so matching costs one dictionary
    /// lookup per word and bit tests.
    struct Bits: Sendable, Hashable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        func contains(_ bit: Int) -> Bool {
            bit < 64 ? low & (1 << UInt64(bit)) != 0 : high & (1 << UInt64(bit - 64)) != 0
        }

        mutating func insert(_ bit: Int) {
            if bit < 64 { low |= 1 << UInt64(bit) } else { high |= 1 << UInt64(bit - 64) }
        }

        mutating func formUnion(_ other: Bits) {
            low |= other.low
            high |= other.high
        }
    }

    let rules: [Rule]
    /// The bit of the words in `ownWords`, after every rule slot's.
    static let ownBit = 127
    static let ownBits: Bits = {
        var bits = Bits()
        bits.insert(ownBit)
        return bits
    }()
    /// The bit of each rule's first slot; slot n is `firstBit[rule] + n`.
    let firstBit: [Int]
    /// Rule words by the FNV-1a hash of their UTF-8 bytes: words are hashed as they are read, never
    /// built as strings.
    let words: [UInt64: Bits]

    public init() {
        let rules = Self.defaultRules
        var firstBit: [Int] = []
        var words: [String: Bits] = [:]
        var next = 0
        for rule in rules {
            firstBit.append(next)
            for (offset, slot) in rule.slots.enumerated() {
                for word in slot { words[word, default: Bits()].insert(next + offset) }
            }
            next += rule.slots.count
        }
        precondition(next <= Self.ownBit, "more rule slots than bits")
        for word in Self.ownWords { words[word, default: Bits()].insert(Self.ownBit) }
        self.rules = rules
        self.firstBit = firstBit
        self.words = Dictionary(words.map { (WordHash.of($0.key), $0.value) }, uniquingKeysWith: { a, b in
            var union = a
            union.formUnion(b)
            return union
        })
    }

    public func score(_ text: String) -> Result {
        var result = scoreOnce(text)
        // Instructions hidden in base64: scored as text, an evasion of their own.
        for decoded in Self.base64Texts(in: text) {
            let inner = scoreOnce(decoded)
            if inner.score >= 0.5 {
                result = Self.combine(result, Result(score: inner.score, reasons: inner.reasons.map { "base64:" + $0 }), evasion: 0.3)
            }
        }
        return result
    }

    /// A token: the bits of its word, or a sentence end.
    enum Token {
        case word(Bits)
        case sentenceEnd
    }

    func scoreOnce(_ text: String) -> Result {
        var evasions: Set<String> = []
        let tokens = tokenize(text, evasions: &evasions)
        var present = Bits()
        for token in tokens { if case .word(let bits) = token { present.formUnion(bits) } }
        var weights: [Double] = []
        var reasons: [String] = []
        for (index, rule) in rules.enumerated() {
            let first = firstBit[index]
            // Every slot must be filled somewhere before a match is worth looking for.
            guard (0..<rule.slots.count).allSatisfy({ present.contains(first + $0) }) else { continue }
            if matches(rule, first: first, tokens) {
                weights.append(rule.weight)
                reasons.append(rule.name)
            }
        }
        var text = text
        let markers = text.withUTF8 { Self.markers($0) }
        for (name, weight) in markers {
            weights.append(weight)
            reasons.append(name)
        }
        if !weights.isEmpty {
            for evasion in evasions.sorted() {
                weights.append(0.3)
                reasons.append("evasion:" + evasion)
            }
        }
        let score = 1 - weights.reduce(1) { $0 * (1 - $1) }
        return Result(score: min(1, max(0, score)), reasons: reasons)
    }

    static func combine(_ a: Result, _ b: Result, evasion: Double) -> Result {
        let score = 1 - (1 - a.score) * (1 - b.score) * (1 - evasion)
        return Result(score: min(1, score), reasons: a.reasons + b.reasons + ["evasion:base64"])
    }

    // MARK: - Normalisation and words

    /// Characters that render as nothing: zero-width, joiners, bidi controls, soft hyphen, tag characters.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00AD, 0x180E, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF, 0xE0000...0xE007F: true
        default: false
        }
    }

    /// The ASCII character a fullwidth form (U+FF01–U+FF5E) stands for; other scalars as they are.
    @inline(__always) static func halfwidth(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        guard (0xFF01...0xFF5E).contains(scalar.value), let ascii = Unicode.Scalar(scalar.value - 0xFEE0) else { return scalar }
        return ascii
    }

    /// Combining marks: diacritics drawn over or under the letter before them.
    static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0300...0x036F, 0x1AB0...0x1AFF, 0x1DC0...0x1DFF: true
        default: false
        }
    }

    /// Latin-1 and Latin Extended-A letters without their diacritics (U+00C0 on; `.` for no letter).
    private static let latinBases = Array("aaaaaa.ceeeeiiii.nooooo..uuuuy..aaaaaa.ceeeeiiii.nooooo..uuuuy.yaaaaaaccccccccdd..eeeeeeeeeegggggggghh..iiiiiiiii.iijjkk.llllllll..nnnnnn...oooooo..rrrrrrsssssssstttt..uuuuuuuuuuuuwwyyyzzzzzzs".utf8)

    /// The lower-case ASCII letter a letter is read as: a Latin letter with a diacritic (`ï`, `ĝ`), or a
    /// Cyrillic or Greek letter drawn as a Latin one (`о`, `е`, `і`, `ο`), used to spell an attack past
    /// a word list. Nil for any other scalar.
    static func lookalike(_ scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if (0xC0...0x17F).contains(value) {
            let base = latinBases[Int(value - 0xC0)]
            return base == UInt8(ascii: ".") ? nil : base
        }
        let letter: Character
        switch value {
        case 0x0430, 0x0410: letter = "a"
        case 0x0412: letter = "b"
        case 0x0441, 0x0421: letter = "c"
        case 0x0501: letter = "d"
        case 0x0435, 0x0415, 0x0454: letter = "e"
        case 0x041D: letter = "h"
        case 0x0456, 0x0406, 0x04CF: letter = "i"
        case 0x0458, 0x0408: letter = "j"
        case 0x041A, 0x043A: letter = "k"
        case 0x041C: letter = "m"
        case 0x043E, 0x041E, 0x03BF, 0x039F: letter = "o"
        case 0x0440, 0x0420, 0x03C1, 0x03A1: letter = "p"
        case 0x051B: letter = "q"
        case 0x0455, 0x0405: letter = "s"
        case 0x0422, 0x03C4: letter = "t"
        case 0x0443, 0x04AF: letter = "y"
        case 0x0445, 0x0425, 0x03C7: letter = "x"
        case 0x0261: letter = "g"
        case 0x03B1, 0x0391: letter = "a"
        case 0x03B5, 0x0395: letter = "e"
        case 0x03B9, 0x0399: letter = "i"
        case 0x03BD: letter = "v"
        case 0x039D: letter = "n"
        default: return nil
        }
        return letter.asciiValue
    }

    /// Leetspeak digits and symbols, undone inside words that also have letters.
    static func leet(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        switch scalar {
        case "0": "o"
        case "1": "i"
        case "3": "e"
        case "4", "@": "a"
        case "5", "$": "s"
        case "7": "t"
        case "8": "b"
        default: nil
        }
    }

    static func isSentenceEnd(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case ".", "?", "!", ";", "\n", "\r", "。", "？", "！": true
        default: false
        }
    }

    /// The text's words, lower-cased, without invisible characters, leetspeak undone in words that mix
    /// letters and digits, and runs of four or more single letters (`i g n o r e`) joined; sentence ends
    /// kept as markers. Each word is hashed as it is read and looked up once.
    func tokenize(_ text: String, evasions: inout Set<String>) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(text.utf8.count / 5)
        // The word being read: its letters only, and with leetspeak undone.
        var plain = WordHash()
        // The word with look-alike letters read as the Latin ones they are drawn as: looked up only when
        // the word as written is no known word (a French or Russian rule's words keep their letters).
        var folded = WordHash()
        // What the folding stands for: Cyrillic or Greek look-alikes, Latin letters with diacritics.
        var asciiLetters = 0
        var scriptLookalikes = 0
        var diacritics = 0
        var fullwidthLetters = 0
        var leet = WordHash()
        var letters = 0
        var hasLeet = false
        // Single-letter words in a row, joined.
        var singles = WordHash()
        var singleCount = 0
        // Which of the first single letters were "i" (a first-person word the rules look at).
        var singleIs: UInt8 = 0

        func flushSingles() {
            if singleCount >= 4 {
                tokens.append(.word(words[singles.value] ?? Bits()))
            } else if singleCount > 0 {
                // One or a few single letters ("a", "I"): only "I" means anything to a rule.
                for index in 0..<singleCount { tokens.append(.word(singleIs & (1 << index) != 0 ? Self.ownBits : Bits())) }
            }
            singles = WordHash()
            singleCount = 0
            singleIs = 0
        }
        func flushWord() {
            defer {
                plain = WordHash()
                leet = WordHash()
                folded = WordHash()
                letters = 0
                hasLeet = false
                asciiLetters = 0
                scriptLookalikes = 0
                diacritics = 0
                fullwidthLetters = 0
            }
            guard letters > 0 else { return }
            // A single letter (or a digit read as one), for the spaced-out words.
            let single = hasLeet ? leet : plain
            if single.count == 1, let letter = single.first {
                if hasLeet { evasions.insert("leetspeak") }
                if letter == "i", singleCount < 8 { singleIs |= 1 << singleCount }
                singles.add(letter)
                singleCount += 1
                return
            }
            flushSingles()
            // Each reading counts as an evasion only where it makes a word the rules know: `mp3`, `4G`, `Ｎｏ`
            // or a name with a diacritic or two are no disguise.
            var bits = words[plain.value]
            if bits == nil, hasLeet, let known = words[leet.value] {
                evasions.insert("leetspeak")
                bits = known
            }
            // Cyrillic or Greek letters drawn as Latin ones (mixed into a Latin word, or making up the whole
            // word) are a disguise; diacritics are read through too (`Rëvëäl yöür systëm prömpt`), but a
            // diacritic is how many languages write, never an evasion of its own (Vietnamese `dàn` stays
            // a weak match, as `dan` is).
            let scriptDisguise = scriptLookalikes > 0 && (asciiLetters > 0 || scriptLookalikes == letters)
            if bits == nil, scriptDisguise || diacritics > 0, let known = words[folded.value] {
                if scriptDisguise { evasions.insert("lookalike_characters") }
                bits = known
            }
            if bits != nil, fullwidthLetters >= 3 { evasions.insert("fullwidth_characters") }
            tokens.append(.word(bits ?? Bits()))
        }
        func sentenceEnd() {
            flushWord()
            flushSingles()
            if case .sentenceEnd? = tokens.last {} else { tokens.append(.sentenceEnd) }
        }

        for original in text.unicodeScalars {
            // Fullwidth forms (`ｉｇｎｏｒｅ`) read as the ASCII they stand for; only letters so written are
            // an evasion (CJK text writes its punctuation so).
            let scalar = Self.halfwidth(original)
            if scalar != original, scalar.properties.isAlphabetic { fullwidthLetters += 1 }
            let value = scalar.value
            if value < 0x80 {
                if value >= 97, value <= 122 {
                    plain.add(ascii: UInt8(value))
                    leet.add(ascii: UInt8(value))
                    folded.add(ascii: UInt8(value))
                    letters += 1
                    asciiLetters += 1
                } else if value >= 65, value <= 90 {
                    plain.add(ascii: UInt8(value + 32))
                    leet.add(ascii: UInt8(value + 32))
                    folded.add(ascii: UInt8(value + 32))
                    letters += 1
                    asciiLetters += 1
                } else if let mapped = Self.leet(scalar) {
                    leet.add(ascii: UInt8(mapped.value))
                    hasLeet = true
                } else if value >= 48, value <= 57 {
                    continue
                } else if Self.isSentenceEnd(scalar) {
                    sentenceEnd()
                } else {
                    flushWord()
                }
                continue
            }
            if Self.isInvisible(scalar) {
                // Inside a word it hides the word; between emoji (a joiner) or words it is ordinary text.
                if letters > 0 { evasions.insert("invisible_characters") }
                continue
            }
            if Self.isCombiningMark(scalar) {
                // A mark over a letter leaves the letter a reader sees (decomposed text, or `i̇g̃n̈ȯr̃ë`); it
                // counts as a diacritic of the word.
                diacritics += 1
                continue
            }
            if scalar.properties.isAlphabetic {
                // A Latin letter with a diacritic, or a Cyrillic or Greek one drawn like a Latin letter.
                let lookalike = Self.lookalike(scalar)
                if let lookalike {
                    folded.add(ascii: lookalike)
                    if (0xC0...0x17F).contains(value) { diacritics += 1 } else { scriptLookalikes += 1 }
                }
                if scalar.properties.isUppercase {
                    for lowered in scalar.properties.lowercaseMapping.unicodeScalars {
                        plain.add(lowered)
                        leet.add(lowered)
                        if lookalike == nil { folded.add(lowered) }
                    }
                } else {
                    plain.add(scalar)
                    leet.add(scalar)
                    if lookalike == nil { folded.add(scalar) }
                }
                letters += 1
            } else if Self.isSentenceEnd(scalar) {
                sentenceEnd()
            } else {
                flushWord()
            }
        }
        flushWord()
        flushSingles()
        return tokens
    }

    func matches(_ rule: Rule, first: Int, _ tokens: [Token]) -> Bool {
        for start in tokens.indices {
            guard case .word(let bits) = tokens[start], bits.contains(first) else { continue }
            if matches(rule, first: first, tokens, slot: 1, after: start, own: false) { return true }
        }
        return false
    }

    /// Whether slots `slot…` match after `position`, each within the rule's gap of the one before; every
    /// candidate word is tried, not only the nearest. A match with a first-person word among its words or
    /// right after them ("ignore my previous instructions", "forget everything I told you", "the
    /// instructions I gave") is the user's own and does not count for a `notOwn` rule.
    private func matches(_ rule: Rule, first: Int, _ tokens: [Token], slot: Int, after position: Int, own: Bool) -> Bool {
        guard slot < rule.slots.count else {
            return !(rule.notOwn && (own || isOwn(tokens, position + 1)))
        }
        var k = position + 1
        var ownSoFar = own
        while k < min(tokens.count, position + 2 + rule.gap) {
            guard case .word(let bits) = tokens[k] else { return false }
            if bits.contains(first + slot), matches(rule, first: first, tokens, slot: slot + 1, after: k, own: ownSoFar) {
                return true
            }
            if bits.contains(Self.ownBit) { ownSoFar = true }
            k += 1
        }
        return false
    }

    private func isOwn(_ tokens: [Token], _ index: Int) -> Bool {
        guard tokens.indices.contains(index), case .word(let bits) = tokens[index] else { return false }
        return bits.contains(Self.ownBit)
    }

    // MARK: - Markers

    static let templateTokens: [[UInt8]] = [
        "<|im_start|>", "<|im_end|>", "<|system|>", "<|assistant|>", "<|endoftext|>", "[inst]", "<<sys>>", "</s>",
        "<|begin_of_text|>", "<|start_header_id|>",
    ].map { Array($0.utf8) }
    static let rolePrefixes: [[UInt8]] = ["system:", "system]", "system message:", "assistant:", "developer:", "system prompt:"].map { Array($0.utf8) }
    /// Chinese, Japanese, Korean: "ignore" with "instructions" or "rules" anywhere in the text.
    static let cjk: [(ignore: [UInt8], targets: [[UInt8]])] = [
        ("忽略", ["指令", "指示", "规则", "提示"]), ("忽視", ["指令", "指示"]), ("无视", ["指令", "指示", "规则"]),
        ("無視", ["指示", "命令", "ルール"]), ("무시", ["지시", "지침", "규칙"]),
    ].map { (Array($0.0.utf8), $0.1.map { Array($0.utf8) }) }

    /// Role and delimiter spoofing, and overrides in scripts without spaces, found in the UTF-8 bytes
    /// (ASCII compared without case) in one pass.
    static func markers(_ bytes: UnsafeBufferPointer<UInt8>) -> [(String, Double)] {
        var found: [(String, Double)] = []
        var delimiters = false
        var roles = false
        var nonASCII = false
        var lineStart = true
        for index in bytes.indices {
            let b = bytes[index]
            if b >= 0x80 { nonASCII = true }
            if !delimiters, b == UInt8(ascii: "<") || b == UInt8(ascii: "[") {
                delimiters = templateTokens.contains { hasPrefix(bytes, index, $0) }
            }
            if b == UInt8(ascii: "\n") {
                lineStart = true
            } else if lineStart, b != UInt8(ascii: " "), b != UInt8(ascii: "#"), b != UInt8(ascii: "*"), b != UInt8(ascii: "["), b != UInt8(ascii: "`") {
                lineStart = false
                if !roles, let prefix = rolePrefixes.first(where: { hasPrefix(bytes, index, $0) }) {
                    roles = speaksToTheModel(bytes, after: index + prefix.count)
                }
            }
        }
        if delimiters { found.append(("delimiter_spoofing", 0.8)) }
        if roles { found.append(("role_spoofing", 0.75)) }
        if nonASCII {
            for (ignore, targets) in cjk where contains(bytes, ignore) && targets.contains(where: { contains(bytes, $0) }) {
                found.append(("instruction_override", 0.85))
                break
            }
        }
        return found
    }

    /// Words that make a `System:` line an instruction to the model rather than a pasted label
    /// ("System: Ubuntu 22.04, kernel 6.1").
    static let directiveWords: Set<String> = [
        "assistant", "ai", "model", "ignore", "disregard", "forget", "must", "instructions", "instruction", "rules",
        "reveal", "override", "disable", "unfiltered", "restrictions", "administrator", "admin", "credentials",
        "password", "passwords", "confidential", "policy", "comply", "obey", "jailbreak", "secret", "secrets",
    ]

    /// Whether the rest of a role line (from `start` to the line's end) speaks to the model: nothing
    /// after the role (a header, the instruction on the next lines), or a directive word.
    static func speaksToTheModel(_ bytes: UnsafeBufferPointer<UInt8>, after start: Int) -> Bool {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        var word: [UInt8] = []
        var sawText = false
        for index in start...end {
            var b = index < end ? bytes[index] : UInt8(ascii: " ")
            if b >= 65, b <= 90 { b += 32 }
            if (b >= 97 && b <= 122) || b >= 0x80 || (b >= 48 && b <= 57) {
                word.append(b)
                sawText = true
            } else if !word.isEmpty {
                if directiveWords.contains(String(decoding: word, as: UTF8.self)) { return true }
                word.removeAll(keepingCapacity: true)
            }
        }
        return !sawText
    }

    /// Whether `needle` starts at `index`, ASCII letters compared without case.
    static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ needle: [UInt8]) -> Bool {
        guard index + needle.count <= bytes.count else { return false }
        for offset in needle.indices {
            var b = bytes[index + offset]
            if b >= 65, b <= 90 { b += 32 }
            if b != needle[offset] { return false }
        }
        return true
    }

    static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, bytes.count >= needle.count else { return false }
        for index in 0...(bytes.count - needle.count) where bytes[index] == first && hasPrefix(bytes, index, needle) {
            return true
        }
        return false
    }

    /// Text hidden in base64 runs (at least 24 characters) that decode to mostly printable text.
    static func base64Texts(in text: String) -> [String] {
        var results: [String] = []
        let bytes = text.utf8
        var runStart = bytes.startIndex
        var runLength = 0
        func check(_ end: String.UTF8View.Index) {
            defer { runLength = 0 }
            guard runLength >= 24, let decoded = decodeBase64(Array(bytes[runStart..<end])) else { return }
            let printable = decoded.filter { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x09 }.count
            guard printable * 10 >= decoded.count * 9 else { return }
            results.append(String(decoding: decoded, as: UTF8.self))
        }
        var index = bytes.startIndex
        while index != bytes.endIndex, results.count < 8 {
            let byte = bytes[index]
            if PIIScanner.isAlnum(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") {
                if runLength == 0 { runStart = index }
                runLength += 1
            } else if runLength > 0 {
                check(index)
            }
            index = bytes.index(after: index)
        }
        if runLength > 0 { check(bytes.endIndex) }
        return results
    }

    static func decodeBase64(_ input: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in input {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }
}
