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
    }

    let rules: [Rule]

    public init() {
        self.rules = Self.defaultRules
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

    func scoreOnce(_ text: String) -> Result {
        let (normalized, evasions) = Self.normalize(text)
        let tokens = Self.tokens(normalized)
        var weights: [Double] = []
        var reasons: [String] = []
        for rule in rules where Self.matches(rule, tokens) {
            weights.append(rule.weight)
            reasons.append(rule.name)
        }
        for (name, weight) in Self.markers(text, normalized: normalized) {
            weights.append(weight)
            reasons.append(name)
        }
        if !weights.isEmpty {
            for evasion in evasions {
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

    // MARK: - Normalisation

    /// Characters that render as nothing: zero-width, joiners, bidi controls, soft hyphen, tag characters.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00AD, 0x180E, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF, 0xE0000...0xE007F: true
        default: false
        }
    }

    static let leet: [Character: Character] = ["0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"]

    /// The lower-cased text without invisible characters, leetspeak undone in mixed words; and the
    /// evasions that were undone.
    static func normalize(_ text: String) -> (String, Set<String>) {
        var evasions: Set<String> = []
        var visible = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isInvisible(scalar) {
                evasions.insert("invisible_characters")
            } else {
                visible.append(scalar)
            }
        }
        let lowered = String(visible).lowercased()
        var out = ""
        out.reserveCapacity(lowered.utf8.count)
        var word = ""
        func flush() {
            if word.contains(where: \.isLetter), word.contains(where: { leet[$0] != nil }) {
                let mapped = String(word.map { leet[$0] ?? $0 })
                if mapped != word { evasions.insert("leetspeak") }
                out += mapped
            } else {
                out += word
            }
            word = ""
        }
        for character in lowered {
            if character.isLetter || character.isNumber || leet[character] != nil {
                word.append(character)
            } else {
                flush()
                out.append(character)
            }
        }
        flush()
        return (out, evasions)
    }

    /// The sentence-end marker among tokens: a rule never matches across it.
    static let sentenceEnd = "."

    /// Words of letters, with sentence ends (`.`, `?`, `!`, `;`, line breaks) as markers; runs of four or
    /// more single letters (`i g n o r e`) joined back into one word.
    static func tokens(_ text: String) -> [String] {
        var raw: [String] = []
        var word = ""
        for character in text {
            if character.isLetter {
                word.append(character)
                continue
            }
            if !word.isEmpty { raw.append(word); word = "" }
            if character == "." || character == "?" || character == "!" || character == ";" || character.isNewline || character == "。" || character == "？" {
                if raw.last != sentenceEnd { raw.append(sentenceEnd) }
            }
        }
        if !word.isEmpty { raw.append(word) }
        var tokens: [String] = []
        var letters = ""
        var run = 0
        func end() {
            if run >= 4 { tokens.append(letters) } else if run > 0 { tokens.append(contentsOf: letters.map(String.init)) }
            letters = ""
            run = 0
        }
        for token in raw {
            if token.count == 1, token != sentenceEnd {
                letters += token
                run += 1
            } else {
                end()
                tokens.append(token)
            }
        }
        end()
        return tokens
    }

    static func matches(_ rule: Rule, _ tokens: [String]) -> Bool {
        guard let first = rule.slots.first else { return false }
        for start in tokens.indices where first.contains(tokens[start]) {
            var position = start
            var matched = true
            for slot in rule.slots.dropFirst() {
                var window = (position + 1)..<min(tokens.count, position + 2 + rule.gap)
                if let stop = window.first(where: { tokens[$0] == sentenceEnd }) { window = window.lowerBound..<stop }
                guard let next = window.first(where: { slot.contains(tokens[$0]) }) else {
                    matched = false
                    break
                }
                position = next
            }
            if matched { return true }
        }
        return false
    }

    /// Role and delimiter spoofing, and overrides in scripts without spaces.
    static func markers(_ text: String, normalized: String) -> [(String, Double)] {
        var found: [(String, Double)] = []
        let templateTokens = ["<|im_start|>", "<|im_end|>", "<|system|>", "<|assistant|>", "<|endoftext|>", "[inst]", "<<sys>>", "</s>", "<|begin_of_text|>", "<|start_header_id|>"]
        if templateTokens.contains(where: { normalized.contains($0) }) { found.append(("delimiter_spoofing", 0.8)) }
        let lines = normalized.split(whereSeparator: \.isNewline)
        let roleLines = lines.contains { line in
            let trimmed = line.drop { $0 == " " || $0 == "#" || $0 == "*" || $0 == "[" || $0 == "`" }
            return trimmed.hasPrefix("system:") || trimmed.hasPrefix("system]") || trimmed.hasPrefix("system message:")
                || trimmed.hasPrefix("assistant:") || trimmed.hasPrefix("developer:") || trimmed.hasPrefix("system prompt:")
        }
        if roleLines { found.append(("role_spoofing", 0.75)) }
        // Chinese, Japanese, Korean: "ignore" with "instructions" or "rules" nearby.
        let cjk: [(ignore: String, targets: [String])] = [
            ("忽略", ["指令", "指示", "规则", "提示"]), ("忽視", ["指令", "指示"]), ("无视", ["指令", "指示", "规则"]),
            ("無視", ["指示", "命令", "ルール"]), ("무시", ["지시", "지침", "규칙"]),
        ]
        for (ignore, targets) in cjk where normalized.contains(ignore) && targets.contains(where: { normalized.contains($0) }) {
            found.append(("instruction_override", 0.85))
            break
        }
        return found
    }

    /// Text hidden in base64 runs (at least 24 characters) that decode to mostly printable text.
    static func base64Texts(in text: String) -> [String] {
        var results: [String] = []
        var run: [UInt8] = []
        func check() {
            defer { run.removeAll(keepingCapacity: true) }
            guard run.count >= 24, let bytes = decodeBase64(run) else { return }
            let printable = bytes.filter { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x09 }.count
            guard printable * 10 >= bytes.count * 9 else { return }
            results.append(String(decoding: bytes, as: UTF8.self))
        }
        for byte in text.utf8 {
            if PIIScanner.isAlnum(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") {
                run.append(byte)
            } else {
                check()
            }
            if results.count >= 8 { break }
        }
        check()
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
