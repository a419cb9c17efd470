extension PIIScanner {
    // MARK: - Email

    /// `local@domain.tld` around the `@` at `at`: the local part's characters, dot-separated domain
    /// labels, a top-level domain of at least two letters. Latin letters with diacritics (`müller@`,
    /// `josé@`, `münchen.de`) count as letters; other scripts end the address, so text in a script
    /// written without spaces is not taken for its local part.
    static func email(_ p: UnsafeBufferPointer<UInt8>, at: Int) -> (Int, Int)? {
        func isLocal(_ b: UInt8) -> Bool {
            isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "'")
        }
        var start = at
        while start > 0 {
            if isLocal(p[start - 1]) {
                start -= 1
            } else if start >= 2, isLatinLetter(p, start - 2) {
                start -= 2
            } else {
                break
            }
        }
        while start < at, p[start] == UInt8(ascii: ".") || p[start] == UInt8(ascii: "'") { start += 1 }
        guard start < at, p[at - 1] != UInt8(ascii: ".") else { return nil }
        var j = at + 1
        var labels = 0
        var lastLabelStart = j
        var lastLabelAlpha = true
        while j < p.count {
            let labelStart = j
            var alpha = true
            while j < p.count {
                if isAlnum(p[j]) || p[j] == UInt8(ascii: "-") {
                    if !isAlpha(p[j]) { alpha = false }
                    j += 1
                } else if isLatinLetter(p, j) {
                    j += 2
                } else {
                    break
                }
            }
            guard j > labelStart, p[labelStart] != UInt8(ascii: "-") else { break }
            labels += 1
            lastLabelStart = labelStart
            lastLabelAlpha = alpha
            guard j + 1 < p.count, p[j] == UInt8(ascii: "."), isAlnum(p[j + 1]) else { break }
            j += 1
        }
        guard labels >= 2, lastLabelAlpha, j - lastLabelStart >= 2 else { return nil }
        return (start, j)
    }

    /// Whether the two bytes at `k` are a Latin letter with a diacritic: U+00C0–U+017F (Latin-1's letters
    /// and Latin Extended-A), but for × and ÷.
    @inline(__always) static func isLatinLetter(_ p: UnsafeBufferPointer<UInt8>, _ k: Int) -> Bool {
        guard k + 1 < p.count, (0xC3...0xC5).contains(p[k]), p[k + 1] & 0xC0 == 0x80 else { return false }
        return !(p[k] == 0xC3 && (p[k + 1] == 0x97 || p[k + 1] == 0xB7))
    }

    // MARK: - Secrets

    static let awsPrefixes: [StaticString] = ["AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"]
    static let gitHubPrefixes: [StaticString] = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
    static let slackPrefixes: [StaticString] = ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"]
    /// Bounds of the look-aheads: a JWT's part (tokens with many claims run to a few KB), a PEM block's body.
    static let maximumJWTPart = 16_384
    static let maximumPEMBody = 16_384

    /// Where the next PEM `-----END ` line starts, found once and reused, so a text of many BEGIN headers
    /// without an end is searched once, not once from each header.
    struct PEMEnds {
        private var searchedFrom = Int.max
        private var found: Int?

        mutating func next(in p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
            if start >= searchedFrom, found.map({ $0 >= start }) ?? true { return found }
            var j = start
            while j < p.count {
                if p[j] == UInt8(ascii: "-"), hasPrefix(p, j, "-----END ") { break }
                j += 1
            }
            searchedFrom = start
            found = j < p.count ? j : nil
            return found
        }
    }

    /// A secret starting at `i`, or nil; when a key's prefix starts there but its token fails, `skip` is
    /// where the bytes it read end, so the scan resumes there: a run of repeated prefixes (`sk-sk-…`,
    /// `eyJ-eyJ-…`) is read once, not once from each of its starts.
    static func secret(_ p: UnsafeBufferPointer<UInt8>, at i: Int, skip: inout Int, pemEnds: inout PEMEnds) -> Int? {
        let b = p[i]
        // Every look-ahead also stops one byte past the longest valid token.
        func token(_ from: Int, minimum: Int, maximum: Int = 512, _ accept: (UInt8) -> Bool) -> Int? {
            let end = run(p, from: from, limit: maximum + 1, accept)
            if end - from >= minimum && end - from <= maximum && endsToken(p, end) { return end }
            skip = end
            return nil
        }
        let keyChars: (UInt8) -> Bool = { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        switch b {
        case UInt8(ascii: "s"):
            // sk-… (OpenAI, sk-proj-…, Anthropic sk-ant-…, DeepSeek), sk_live_… (Stripe).
            if hasPrefix(p, i, "sk-") { return token(i + 3, minimum: 20, keyChars) }
            if hasPrefix(p, i, "sk_live_") || hasPrefix(p, i, "sk_test_") { return token(i + 8, minimum: 16, keyChars) }
        case UInt8(ascii: "r"):
            if hasPrefix(p, i, "rk_live_") { return token(i + 8, minimum: 16, keyChars) }
        case UInt8(ascii: "A"):
            // AWS access key ids: a known four-letter prefix and 16 upper-case letters or digits.
            for prefix in awsPrefixes where hasPrefix(p, i, prefix) {
                let end = run(p, from: i + 4, limit: 17) { isUpper($0) || isDigit($0) }
                if end - i == 20, endsToken(p, end) { return end }
            }
            // Google API keys.
            if hasPrefix(p, i, "AIza") { return token(i + 4, minimum: 35, maximum: 35, keyChars) }
        case UInt8(ascii: "g"):
            for prefix in gitHubPrefixes where hasPrefix(p, i, prefix) {
                return token(i + 4, minimum: 30, maximum: 255) { isAlnum($0) }
            }
            if hasPrefix(p, i, "github_pat_") { return token(i + 11, minimum: 22, keyChars) }
        case UInt8(ascii: "x"):
            for prefix in slackPrefixes where hasPrefix(p, i, prefix) {
                return token(i + 5, minimum: 10, keyChars)
            }
        case UInt8(ascii: "e"):
            // A JWT: three base64url parts, the first a JSON header ("eyJ" is `{"`).
            guard hasPrefix(p, i, "eyJ") else { return nil }
            let base64URL: (UInt8) -> Bool = { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
            var j = i
            for part in 0..<3 {
                let end = run(p, from: j, limit: maximumJWTPart + 1, base64URL)
                guard end - j <= maximumJWTPart, end - j >= (part == 2 ? 8 : 10) else {
                    skip = end
                    return nil
                }
                j = end
                if part < 2 {
                    guard j < p.count, p[j] == UInt8(ascii: ".") else {
                        skip = j
                        return nil
                    }
                    j += 1
                }
            }
            if endsToken(p, j) { return j }
            skip = j
            return nil
        case UInt8(ascii: "-"):
            // A PEM private key block, through its END line.
            guard hasPrefix(p, i, "-----BEGIN ") else { return nil }
            let header = run(p, from: i + 11, limit: 64) { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "\n") }
            guard header - 11 >= i + 11, hasPrefix(p, header - 11, "PRIVATE KEY"), hasPrefix(p, header, "-----") else { return nil }
            // The END line within the longest key a PEM block holds (an 8192-bit RSA key is about 6.5 KB).
            // Without one, only the header is passed over: the text after it is scanned as any other.
            skip = header + 5
            guard let end = pemEnds.next(in: p, from: header + 5), end - (header + 5) <= maximumPEMBody else { return nil }
            let close = run(p, from: end + 9, limit: 64) { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "\n") }
            return hasPrefix(p, close, "-----") ? close + 5 : nil
        default:
            return nil
        }
        return nil
    }

    // MARK: - Numbers

    /// Digits from `i` with single spaces or dashes between groups: how many, and where they end; nil
    /// when more than `maximumDigits` or when the run goes on as a decimal or a word.
    static func digitRun(_ p: UnsafeBufferPointer<UInt8>, at i: Int, maximumDigits: Int) -> (count: Int, end: Int)? {
        var count = 0
        var j = i
        while j < p.count, count <= maximumDigits {
            if isDigit(p[j]) {
                count += 1
                j += 1
            } else if (p[j] == UInt8(ascii: " ") || p[j] == UInt8(ascii: "-")), j + 1 < p.count, isDigit(p[j + 1]), count > 0 {
                j += 1
            } else {
                break
            }
        }
        guard count > 0, count <= maximumDigits, endsToken(p, j),
              j >= p.count || p[j] != UInt8(ascii: ".") || j + 1 >= p.count || !isDigit(p[j + 1]) else { return nil }
        return (count, j)
    }

    /// A payment card number: 13–19 digits (spaced or dashed in groups), an issuer's prefix and length,
    /// and a valid Luhn check digit.
    static func card(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard isDigit(p[i]), let (count, end) = digitRun(p, at: i, maximumDigits: 19), (13...19).contains(count) else { return nil }
        // The first four digits for the issuer; the Luhn sum from the right, over the digits only.
        var prefix = 0
        var seen = 0
        var sum = 0
        var position = 0
        var k = end - 1
        while k >= i {
            if isDigit(p[k]) {
                var value = Int(p[k] &- 0x30)
                if position % 2 == 1 {
                    value *= 2
                    if value > 9 { value -= 9 }
                }
                sum += value
                position += 1
            }
            k -= 1
        }
        k = i
        while k < end, seen < 4 {
            if isDigit(p[k]) {
                prefix = prefix * 10 + Int(p[k] &- 0x30)
                seen += 1
            }
            k += 1
        }
        guard sum % 10 == 0, issuerMatches(prefix4: prefix, length: count) else { return nil }
        return end
    }

    /// Visa, Mastercard, American Express, Discover, JCB, Diners Club and UnionPay prefixes and lengths,
    /// from the first four digits.
    static func issuerMatches(prefix4: Int, length: Int) -> Bool {
        let prefix1 = prefix4 / 1000
        let prefix2 = prefix4 / 100
        let prefix3 = prefix4 / 10
        switch prefix1 {
        case 4: return length == 13 || length == 16 || length == 19
        case 5: return (51...55).contains(prefix2) && length == 16
        case 2: return (2221...2720).contains(prefix4) && length == 16
        case 3:
            if prefix2 == 34 || prefix2 == 37 { return length == 15 }
            if (3528...3589).contains(prefix4) { return (16...19).contains(length) }
            if (300...305).contains(prefix3) || prefix2 == 36 || prefix2 == 38 || prefix2 == 39 { return (14...19).contains(length) }
            return false
        case 6:
            if prefix4 == 6011 || prefix2 == 65 || (644...649).contains(prefix3) || prefix2 == 62 { return (16...19).contains(length) }
            return false
        default:
            return false
        }
    }

    /// A US social security number written `AAA-GG-SSSS` (or with spaces): area not 000, 666 or 900–999,
    /// group not 00, serial not 0000.
    static func ssn(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i + 11 <= p.count else { return nil }
        let separator = p[i + 3]
        guard separator == UInt8(ascii: "-") || separator == UInt8(ascii: " "), p[i + 6] == separator else { return nil }
        for k in [0, 1, 2, 4, 5, 7, 8, 9, 10] where !isDigit(p[i + k]) { return nil }
        guard endsToken(p, i + 11), i + 11 >= p.count || p[i + 11] != UInt8(ascii: "-") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int { (from..<from + count).reduce(0) { $0 * 10 + Int(p[$1] &- 0x30) } }
        let area = number(i, 3)
        let group = number(i + 4, 2)
        let serial = number(i + 7, 4)
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return nil }
        return i + 11
    }

    /// The longest phone number the detector reads, separators included (`+44 (0) 20 7946 0958 …`).
    static let maximumPhoneBytes = 32

    /// A phone number: `+CC` (or `00CC`) and 6–14 more digits in groups (spaces, dashes, dots, a
    /// parenthesised area code), or a North American `(AAA) EEE-NNNN` / `AAA-EEE-NNNN` / `AAA.EEE.NNNN`,
    /// with or without its `1` country code, or a national number starting with 0: in at least three
    /// groups (`020 7946 0958`, `01 23 45 67 89`), or an area code and a subscriber number (`07911 123456`,
    /// `030 12345678`).
    static func phone(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        var digits = 0
        // The digit groups' shape: how many, the first four lengths and where they start, whether all are
        // pairs and whether all after the first have three or four digits.
        var groupCount = 0
        var lengths = (0, 0, 0, 0)
        var starts = (0, 0, 0, 0)
        var allPairs = true
        var restThreeOrFour = true
        var current = 0
        var j = i
        let international = p[i] == UInt8(ascii: "+")
        if international { j += 1 }
        var spaces = false, dashes = false, dots = false
        var parenthesised = false
        func endGroup() {
            guard current > 0 else { return }
            switch groupCount {
            case 0: lengths.0 = current; starts.0 = j - current
            case 1: lengths.1 = current; starts.1 = j - current
            case 2: lengths.2 = current; starts.2 = j - current
            case 3: lengths.3 = current; starts.3 = j - current
            default: break
            }
            if current != 2 { allPairs = false }
            if groupCount > 0, !(3...4).contains(current) { restThreeOrFour = false }
            groupCount += 1
            current = 0
        }
        while j < p.count {
            // Bounded: a run of `(` or of digit groups is tried from each of its starts, each in a few bytes.
            if j - i > maximumPhoneBytes { return nil }
            let b = p[j]
            if isDigit(b) {
                digits += 1
                current += 1
                j += 1
            } else if b == UInt8(ascii: "(") || b == UInt8(ascii: ")") {
                if b == UInt8(ascii: "(") {
                    guard !parenthesised else { return nil }
                    parenthesised = true
                }
                endGroup()
                j += 1
                if j < p.count, p[j] == UInt8(ascii: " ") { j += 1 }
            } else if (b == UInt8(ascii: " ") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")), j + 1 < p.count,
                      isDigit(p[j + 1]) || p[j + 1] == UInt8(ascii: "(") {
                endGroup()
                if b == UInt8(ascii: " ") { spaces = true } else if b == UInt8(ascii: "-") { dashes = true } else { dots = true }
                j += 1
            } else {
                break
            }
            if digits > 15 { return nil }
        }
        endGroup()
        guard endsToken(p, j), digits >= 7 else { return nil }
        // Not the tail of a longer run of digit groups (an account number, an IBAN that failed its check).
        if !international, i >= 2, p[i - 1] == UInt8(ascii: " ") || p[i - 1] == UInt8(ascii: "-"), isDigit(p[i - 2]) { return nil }
        if international {
            guard p.count > i + 1, isDigit(p[i + 1]), (8...15).contains(digits) else { return nil }
            return j
        }
        let separatorKinds = (spaces ? 1 : 0) + (dashes ? 1 : 0) + (dots ? 1 : 0)
        // North American: area code and exchange both start with 2–9; the country code 1 may lead.
        func northAmerican(area: Int, exchange: Int) -> Bool {
            p[area] &- 0x30 >= 2 && p[exchange] &- 0x30 >= 2 && (separatorKinds <= 1 || parenthesised)
        }
        if groupCount == 3, lengths == (3, 3, 4, 0) {
            return northAmerican(area: starts.0, exchange: starts.1) ? j : nil
        }
        if groupCount == 4, lengths == (1, 3, 3, 4), p[starts.0] == UInt8(ascii: "1") {
            return northAmerican(area: starts.1, exchange: starts.2) ? j : nil
        }
        guard p[i] == UInt8(ascii: "0"), !dots, separatorKinds == 1, groupCount >= 2, groupCount <= 8 else { return nil }
        // `00` and a country code: the international prefix dialled from most of the world, written in
        // spaced groups (`0012-3456-7890` is an id's shape).
        if i + 2 < p.count, p[i + 1] == UInt8(ascii: "0"), p[i + 2] != UInt8(ascii: "0") {
            return (10...17).contains(digits) && spaces ? j : nil
        }
        // National numbers with a trunk 0: an area code and a subscriber number (07911 123456), pairs
        // (01 23 45 67 89), or an area code and groups of three or four (020 7946 0958, 030 1234 5678).
        guard (9...11).contains(digits) else { return nil }
        if groupCount == 2 { return (3...5).contains(lengths.0) && (6...8).contains(lengths.1) && !parenthesised ? j : nil }
        return allPairs || ((2...5).contains(lengths.0) && restThreeOrFour) ? j : nil
    }

    // MARK: - Addresses

    /// The end of a hex/colon/dot run from `i` holding at least two colons.
    static func colonRun(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        var colons = 0
        let end = run(p, from: i) { b in
            if b == UInt8(ascii: ":") { colons += 1 }
            return isHex(b) || b == UInt8(ascii: ":") || b == UInt8(ascii: ".")
        }
        return colons >= 2 ? end : nil
    }

    /// Four dot-separated decimal octets (0–255, no leading zeros), not part of a longer dotted number,
    /// nor a version, section or object identifier named so just before it (`version 1.2.3.4`,
    /// `AssemblyVersion("4.0.0.0")`, `OID 2.5.4.3`).
    static func ipv4(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard isDigit(p[i]), let end = octets(p, at: i) else { return nil }
        // 1.2.3.4.5 is not an address; neither is the tail of x.1.2.3.4.
        if end < p.count, p[end] == UInt8(ascii: "."), end + 1 < p.count, isDigit(p[end + 1]) { return nil }
        if i > 0, p[i - 1] == UInt8(ascii: ".") { return nil }
        guard endsToken(p, end), !followsNumberingWord(p, i) else { return nil }
        return end
    }

    /// Words after which four dotted numbers are a version or a numbering, not an address.
    static let numberingWords: Set<String> = [
        "version", "versions", "revision", "oid", "section", "chapter", "clause", "rfc", "assemblyversion",
        "fileversion", "productversion", "assemblyfileversion",
    ]

    /// Whether the word before `i` (across spaces and `:`, `=`, `(`, quotes) is one of `numberingWords`.
    static func followsNumberingWord(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        var k = i
        var skipped = 0
        func isSeparator(_ b: UInt8) -> Bool {
            b == UInt8(ascii: " ") || b == UInt8(ascii: ":") || b == UInt8(ascii: "=") || b == UInt8(ascii: "(")
                || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")
        }
        while k > 0, skipped < 4, isSeparator(p[k - 1]) {
            k -= 1
            skipped += 1
        }
        guard skipped > 0 else { return false }
        var start = k
        while start > 0, k - start < 24, isAlpha(p[start - 1]) { start -= 1 }
        guard start < k, start == 0 || !isWordByte(p[start - 1]) else { return false }
        let word = String(decoding: UnsafeBufferPointer(rebasing: p[start..<k]), as: UTF8.self).lowercased()
        return numberingWords.contains(word)
    }

    static func octets(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        var j = i
        for part in 0..<4 {
            let start = j
            var value = 0
            while j < p.count, isDigit(p[j]), j - start < 3 {
                value = value * 10 + Int(p[j] &- 0x30)
                j += 1
            }
            let length = j - start
            guard length > 0, value <= 255, !(length > 1 && p[start] == UInt8(ascii: "0")) else { return nil }
            if j < p.count, isDigit(p[j]) { return nil }
            if part < 3 {
                guard j < p.count, p[j] == UInt8(ascii: ".") else { return nil }
                j += 1
            }
        }
        return j
    }

    /// An IPv6 address: eight groups of 1–4 hex digits, or fewer with one `::`, optionally ending in a
    /// dotted IPv4 address. A short compressed form must look like an address, not like code: `::` alone
    /// (Haskell's `::`, a batch comment), `A::B` or `Face::Add` (C++ and Ruby scopes) and `1::2` (a
    /// Python slice) are not; `::1`, `fe80::1` and `2001:db8::` are.
    static func ipv6(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        // The longest address, `ffff:…:255.255.255.255`, has 45 bytes.
        let end = run(p, from: i, limit: 46) { isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
        guard end - i >= 2, end - i <= 45, endsToken(p, end) else { return nil }
        var colons = 0
        for k in i..<end where p[k] == UInt8(ascii: ":") { colons += 1 }
        guard colons >= 2 else { return nil }
        var groups = 0
        var compressed = false
        var leading = false
        var longest = 0
        var decimal = false
        var j = i
        if hasPrefix(p, j, "::") {
            compressed = true
            leading = true
            j += 2
            if j == end { return nil }
        } else if p[j] == UInt8(ascii: ":") {
            return nil
        }
        while j < end {
            let start = j
            while j < end, isHex(p[j]) {
                if isDigit(p[j]) { decimal = true }
                j += 1
            }
            if j < end, p[j] == UInt8(ascii: ".") {
                // An embedded IPv4 address ends the address and counts as two groups.
                guard let v4 = octets(p, at: start), v4 == end else { return nil }
                groups += 2
                decimal = true
                longest = 4
                j = end
                break
            }
            let length = j - start
            guard (1...4).contains(length) else { return nil }
            longest = max(longest, length)
            groups += 1
            if j == end { break }
            // j is at ':'
            if hasPrefix(p, j, "::") {
                guard !compressed else { return nil }
                compressed = true
                j += 2
                if j == end { break }
            } else {
                j += 1
                guard j < end else { return nil }
            }
        }
        guard compressed ? groups < 8 : groups == 8 else { return nil }
        if compressed, groups < 3 {
            // `::1` (loopback) is the one short form with single-digit groups anyone writes.
            let loopback = leading && end - i == 3 && p[i + 2] == UInt8(ascii: "1")
            guard decimal, longest >= 2 || loopback else { return nil }
        }
        return end
    }

    // MARK: - IBAN

    /// Registered lengths of common countries' IBANs; other countries' must be 15–34 characters.
    static let ibanLengths: [UInt16: Int] = Dictionary(uniqueKeysWithValues: ibanLengthsByCountry.map { country, length in
        let bytes = Array(country.utf8)
        return (UInt16(bytes[0]) << 8 | UInt16(bytes[1]), length)
    })

    static let ibanLengthsByCountry: [String: Int] = [
        "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
        "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
        "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
        "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
    ]

    /// An IBAN: country letters, two check digits and the account, compact or in groups of four, whose
    /// mod-97 value is 1.
    static func iban(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i + 4 < p.count, isUpper(p[i]), isUpper(p[i + 1]), isDigit(p[i + 2]), isDigit(p[i + 3]) else { return nil }
        var count = 0
        var j = i
        while j < p.count, count < 34 {
            if isUpper(p[j]) || isDigit(p[j]) {
                count += 1
                j += 1
            } else if p[j] == UInt8(ascii: " "), j + 1 < p.count, isUpper(p[j + 1]) || isDigit(p[j + 1]), count % 4 == 0 {
                j += 1
            } else {
                break
            }
        }
        guard endsToken(p, j) else { return nil }
        let country = UInt16(p[i]) << 8 | UInt16(p[i + 1])
        if let length = ibanLengths[country] {
            guard count == length else { return nil }
        } else {
            guard (15...34).contains(count) else { return nil }
        }
        // The account first, then the country and check digits; letters count as 10–35; mod 97 must be 1.
        var remainder = 0
        func add(_ b: UInt8) {
            if isDigit(b) {
                remainder = (remainder * 10 + Int(b &- 0x30)) % 97
            } else {
                remainder = (remainder * 100 + Int(b &- 0x41) + 10) % 97
            }
        }
        var seen = 0
        var k = i
        while k < j {
            if p[k] != UInt8(ascii: " ") {
                if seen >= 4 { add(p[k]) }
                seen += 1
            }
            k += 1
        }
        for offset in 0..<4 { add(p[i + offset]) }
        return remainder == 1 ? j : nil
    }
}
