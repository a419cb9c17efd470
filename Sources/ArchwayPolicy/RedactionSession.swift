/// One request's placeholders: each detected value becomes `[[LABEL_n]]` (the same value, the same
/// placeholder, across the request's messages), and the answer's placeholders become the values again.
///
/// A placeholder to restore can never collide with text the client sent: when the request contains
/// `[[` anywhere, every `redact` placeholder carries a random suffix the request does not contain. A
/// `mask` placeholder is never restored, so it is always the plain `[[LABEL]]`.
public struct RedactionSession: Sendable {
    public enum Mode: Sendable {
        /// Reversible: placeholders are restored in the answer.
        case redact
        /// Irreversible: `[[LABEL]]`, nothing to restore.
        case mask
    }

    public let mode: Mode
    let suffix: String
    /// Placeholder → original value.
    public private(set) var values: [String: String] = [:]
    private var placeholders: [String: String] = [:]
    private var counts: [String: Int] = [:]
    /// The kinds found, in the order first seen (for spans and errors: never the values).
    public private(set) var kinds: [PIIKind] = []
    public private(set) var findings = 0

    /// `texts` are everything the request carries, so the suffix (when needed) appears in none of them.
    public init(mode: Mode, texts: [String]) {
        self.mode = mode
        guard mode == .redact, texts.contains(where: { $0.contains("[[") }) else {
            self.suffix = ""
            return
        }
        var generator = SystemRandomNumberGenerator()
        var suffix: String
        repeat {
            suffix = "_" + String(generator.next() & 0xFF_FFFF, radix: 36)
        } while texts.contains(where: { $0.contains(suffix) })
        self.suffix = suffix
    }

    /// `text` with its findings replaced by placeholders.
    public mutating func redact(_ text: String, findings: [PIIFinding]) -> String {
        guard !findings.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var cursor = 0
        for finding in findings {
            out.append(contentsOf: bytes[cursor..<finding.range.lowerBound])
            let value = String(decoding: bytes[finding.range], as: UTF8.self)
            out.append(contentsOf: placeholder(for: value, kind: finding.kind).utf8)
            cursor = finding.range.upperBound
        }
        out.append(contentsOf: bytes[cursor...])
        return String(decoding: out, as: UTF8.self)
    }

    mutating func placeholder(for value: String, kind: PIIKind) -> String {
        findings += 1
        if !kinds.contains(kind) { kinds.append(kind) }
        if mode == .mask { return "[[\(kind.label)\(suffix)]]" }
        if let existing = placeholders[value] { return existing }
        let number = counts[kind.label, default: 0] + 1
        counts[kind.label] = number
        let placeholder = "[[\(kind.label)_\(number)\(suffix)]]"
        placeholders[value] = placeholder
        values[placeholder] = value
        return placeholder
    }

    /// The answer with placeholders turned back into the client's values. Works on the UTF-8 bytes, not
    /// on characters: a combining mark after a placeholder must not hide its closing brackets.
    public func restore(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        return streamRestorer().restoring(text)
    }

    /// A restorer for one stream of text: a choice's content, or (`insideJSONStrings`) a tool call's
    /// arguments, a JSON document whose placeholders sit in string literals, so each value goes back
    /// escaped (a PEM key's newlines as `\n`, a quote as `\"`) and the arguments stay valid JSON.
    public func streamRestorer(insideJSONStrings: Bool = false) -> StreamRestorer {
        StreamRestorer(values: insideJSONStrings ? values.mapValues(Self.escapedForJSONString) : values)
    }

    /// `text` as the inside of a JSON string literal (RFC 8259 §7).
    static func escapedForJSONString(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// Restores placeholders in text that arrives in pieces, split anywhere: it holds back only what could
/// still be the start of a placeholder and passes everything else through at once. It reads UTF-8 bytes
/// (placeholders are ASCII, and held-back text always starts at a `[`, so what it passes on is whole text).
public struct StreamRestorer: Sendable {
    let values: [[UInt8]: [UInt8]]
    let placeholders: [[UInt8]]
    let longest: Int
    private var pending: [UInt8] = []

    init(values: [String: String]) {
        var bytes: [[UInt8]: [UInt8]] = [:]
        for (placeholder, value) in values { bytes[Array(placeholder.utf8)] = Array(value.utf8) }
        self.values = bytes
        self.placeholders = Array(bytes.keys)
        self.longest = placeholders.map(\.count).max() ?? 0
    }

    /// The text that can be sent now, with placeholders restored.
    public mutating func feed(_ piece: String) -> String {
        guard !values.isEmpty else { return piece }
        pending.append(contentsOf: piece.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(pending.count)
        var i = 0
        let n = pending.count
        scan: while i < n {
            guard pending[i] == UInt8(ascii: "[") else {
                output.append(pending[i])
                i += 1
                continue
            }
            // A "[" that could open a placeholder: is one here, could one still come, or neither?
            let rest = n - i
            var j = i + 1
            while j + 1 < n, j - i < longest {
                if pending[j] == UInt8(ascii: "]"), pending[j + 1] == UInt8(ascii: "]") {
                    if let value = values[Array(pending[i...(j + 1)])] {
                        output.append(contentsOf: value)
                        i = j + 2
                        continue scan
                    }
                    break
                }
                j += 1
            }
            if rest < longest, placeholders.contains(where: { $0.starts(with: pending[i..<n]) }) {
                // Held back: the next piece may complete it.
                pending.removeFirst(i)
                return String(decoding: output, as: UTF8.self)
            }
            output.append(pending[i])
            i += 1
        }
        pending.removeAll(keepingCapacity: true)
        return String(decoding: output, as: UTF8.self)
    }

    /// A whole text with its placeholders restored (this restorer's held-back text is not involved).
    public func restoring(_ text: String) -> String {
        guard !values.isEmpty, text.utf8.contains(UInt8(ascii: "[")) else { return text }
        var copy = self
        copy.pending.removeAll()
        return copy.feed(text) + copy.finish()
    }

    /// What is still held back, at the end of the stream.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
