/// Finds personal data and secrets in text in one pass over its UTF-8 bytes, with validation instead of
/// bare patterns: Luhn and issuer ranges for card numbers, the mod-97 check for IBANs, area/group/serial
/// rules for SSNs, the address grammars for IPv4 and IPv6, phone forms with a country code or a national
/// layout, and secrets by their known prefixes and shapes (OpenAI/Anthropic/Stripe/Slack/Google keys,
/// AWS access key ids, GitHub tokens, JWTs, private-key blocks). Ordinary numbers (order ids, prices,
/// dates, versions, part numbers, coordinates) have none of those shapes and pass.
///
/// Detectors run only where a word starts (or at an `@`), each rejecting on its first bytes, so a
/// typical 4 KB prompt costs a few microseconds. Custom entities (regular expressions) run after it.
public struct PIIScanner: Sendable {
    public let kinds: Set<PIIKind>
    let custom: [(kind: PIIKind, regex: CustomPattern)]

    /// A compiled custom pattern.
    struct CustomPattern: @unchecked Sendable {
        // `Regex` is not `Sendable`; it is immutable once compiled and only matched against.
        let regex: Regex<AnyRegexOutput>
    }

    public init(kinds: Set<PIIKind> = Set(PIIKind.builtIn), custom: [(name: String, pattern: String)] = []) throws {
        self.kinds = kinds
        self.custom = try custom.map { (PIIKind($0.name), CustomPattern(regex: try Regex($0.pattern))) }
    }

    /// Every finding in `text`, in order, none overlapping.
    public func scan(_ text: String) -> [PIIFinding] {
        var findings: [PIIFinding] = []
        var text = text
        text.withUTF8 { bytes in
            findings = scan(bytes)
        }
        if !custom.isEmpty { findings = merge(findings, customFindings(in: text)) }
        return findings
    }

    func scan(_ p: UnsafeBufferPointer<UInt8>) -> [PIIFinding] {
        var findings: [PIIFinding] = []
        let n = p.count
        var i = 0
        var lastEnd = 0
        let wantEmail = kinds.contains(.email)
        let wantSecret = kinds.contains(.secret)
        let wantCard = kinds.contains(.creditCard)
        let wantSSN = kinds.contains(.usSSN)
        let wantPhone = kinds.contains(.phone)
        let wantIP = kinds.contains(.ipAddress)
        let wantIBAN = kinds.contains(.iban)
        var pemEnds = Self.PEMEnds()
        @inline(__always) func record(_ kind: PIIKind, _ start: Int, _ end: Int) {
            findings.append(PIIFinding(kind: kind, range: start..<end))
            lastEnd = end
            i = end
        }
        while i < n {
            let b = p[i]
            if b == UInt8(ascii: "@") {
                if wantEmail, let (start, end) = Self.email(p, at: i), start >= lastEnd {
                    record(.email, start, end)
                    continue
                }
                i += 1
                continue
            }
            let boundary = i == 0 || !Self.isWordByte(p[i - 1])
            guard boundary, b < 0x80 else {
                i += 1
                continue
            }
            if wantSecret {
                var skip = i
                if let end = Self.secret(p, at: i, skip: &skip, pemEnds: &pemEnds) { record(.secret, i, end); continue }
                // A key's prefix whose token failed: no later start inside what it read can be a key either
                // (`sk-sk-sk-…`), and none of the other detectors starts with a key's prefix.
                if skip > i {
                    i = skip
                    continue
                }
            }
            if Self.isDigit(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: "(") {
                if wantCard, let end = Self.card(p, at: i), !Self.isDecimalFraction(p, i, end) { record(.creditCard, i, end); continue }
                if wantSSN, let end = Self.ssn(p, at: i) { record(.usSSN, i, end); continue }
                if wantIP, let end = Self.ipv4(p, at: i) { record(.ipAddress, i, end); continue }
                if wantPhone, let end = Self.phone(p, at: i) { record(.phone, i, end); continue }
            }
            if wantIBAN, Self.isUpper(b), let end = Self.iban(p, at: i) { record(.iban, i, end); continue }
            // IPv6 only where a colon comes within a group's length (most words have none).
            if wantIP, Self.isHex(b) || b == UInt8(ascii: ":"), Self.colonSoon(p, after: i) {
                if let end = Self.ipv6(p, at: i) { record(.ipAddress, i, end); continue }
                // A run with colons that is no address is skipped whole, so no tail of it is tried again.
                if let end = Self.colonRun(p, at: i) { i = end; continue }
            }
            // Nothing starts here: the rest of the word cannot start anything either.
            i = Self.isWordByte(b) ? Self.run(p, from: i + 1, Self.isWordByte) : i + 1
        }
        return findings
    }

    /// Whether `start..<end` is the fraction of a decimal number: an unbroken run of digits right after
    /// `digit.` (a score's 0.4221165755827173, a latitude's 40.42…, an embedding's values), whose digits
    /// pass a card's issuer and Luhn checks often enough. A card written in groups after `2.` is still one.
    static func isDecimalFraction(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard start >= 2, p[start - 1] == UInt8(ascii: "."), isDigit(p[start - 2]) else { return false }
        var k = start
        while k < end, isDigit(p[k]) { k += 1 }
        return k == end
    }

    func customFindings(in text: String) -> [PIIFinding] {
        var findings: [PIIFinding] = []
        let utf8 = text.utf8
        for (kind, pattern) in custom {
            for match in text.matches(of: pattern.regex) where !match.range.isEmpty {
                let start = utf8.distance(from: utf8.startIndex, to: match.range.lowerBound)
                let end = utf8.distance(from: utf8.startIndex, to: match.range.upperBound)
                findings.append(PIIFinding(kind: kind, range: start..<end))
            }
        }
        return findings
    }

    /// Both lists in order; where two overlap the earlier (then the longer) wins.
    func merge(_ a: [PIIFinding], _ b: [PIIFinding]) -> [PIIFinding] {
        let all = (a + b).sorted { $0.range.lowerBound != $1.range.lowerBound ? $0.range.lowerBound < $1.range.lowerBound : $0.range.count > $1.range.count }
        var merged: [PIIFinding] = []
        for finding in all where merged.last.map({ $0.range.upperBound <= finding.range.lowerBound }) ?? true {
            merged.append(finding)
        }
        return merged
    }

    // MARK: - Bytes

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
    @inline(__always) static func isLower(_ b: UInt8) -> Bool { b &- 0x61 < 26 }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { isUpper(b) || isLower(b) }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 6 }
    /// ASCII letters, digits and `_`: what continues a token. Other scripts (and their punctuation, as in
    /// CJK text without spaces) delimit tokens.
    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }

    static func hasPrefix(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard i + count <= p.count else { return false }
        return prefix.withUTF8Buffer { expected in
            for k in 0..<count where p[i + k] != expected[k] { return false }
            return true
        }
    }

    /// Whether a `:` comes within the next five bytes, through hex digits only.
    @inline(__always) static func colonSoon(_ p: UnsafeBufferPointer<UInt8>, after i: Int) -> Bool {
        var j = i
        while j < p.count, j - i < 5 {
            if p[j] == UInt8(ascii: ":") { return true }
            guard isHex(p[j]) else { return false }
            j += 1
        }
        return false
    }

    /// The end of a run of bytes satisfying `accept`, from `i`, at most `limit` bytes long.
    @inline(__always) static func run(_ p: UnsafeBufferPointer<UInt8>, from i: Int, limit: Int = .max, _ accept: (UInt8) -> Bool) -> Int {
        var j = i
        let last = limit >= p.count - i ? p.count : i + limit
        while j < last, accept(p[j]) { j += 1 }
        return j
    }

    /// Whether the byte at `j` (if any) ends a token: not a letter or digit.
    @inline(__always) static func endsToken(_ p: UnsafeBufferPointer<UInt8>, _ j: Int) -> Bool {
        j >= p.count || !isWordByte(p[j])
    }
}
