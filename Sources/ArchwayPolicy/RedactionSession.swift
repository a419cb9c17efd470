/// One request's placeholders: each detected value becomes `[[LABEL_n]]` (the same value, the same
/// placeholder, across the request's messages), and the answer's placeholders become the values again.
///
/// A placeholder can never collide with text the client sent: when the request contains `[[`
/// anywhere, every placeholder carries a random suffix the request does not contain.
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
        guard texts.contains(where: { $0.contains("[[") }) else {
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

    /// The answer with placeholders turned back into the client's values.
    public func restore(_ text: String) -> String {
        guard !values.isEmpty, text.contains("[[") else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var rest = Substring(text)
        while let open = rest.firstRange(of: "[[") {
            result += rest[..<open.lowerBound]
            let candidate = rest[open.lowerBound...]
            if let close = candidate.firstRange(of: "]]"), let value = values[String(candidate[..<close.upperBound])] {
                result += value
                rest = candidate[close.upperBound...]
            } else {
                result += "[["
                rest = candidate.dropFirst(2)
            }
        }
        result += rest
        return result
    }

    /// A restorer for one stream of text (a choice's content, a tool call's arguments).
    public func streamRestorer() -> StreamRestorer {
        StreamRestorer(values: values)
    }
}

/// Restores placeholders in text that arrives in pieces, split anywhere: it holds back only what could
/// still be the start of a placeholder and passes everything else through at once.
public struct StreamRestorer: Sendable {
    let values: [String: String]
    let longest: Int
    private var pending = ""

    init(values: [String: String]) {
        self.values = values
        self.longest = values.keys.map(\.utf8.count).max() ?? 0
    }

    /// The text that can be sent now, with placeholders restored.
    public mutating func feed(_ piece: String) -> String {
        guard !values.isEmpty else { return piece }
        pending += piece
        var output = ""
        while let open = pending.firstRange(of: "[[") {
            output += pending[..<open.lowerBound]
            let candidate = pending[open.lowerBound...]
            if let close = candidate.firstRange(of: "]]") {
                let token = String(candidate[..<close.upperBound])
                if let value = values[token] {
                    output += value
                    pending = String(candidate[close.upperBound...])
                    continue
                }
                // Not ours: pass the "[[" on and look further.
                output += "[["
                pending = String(candidate.dropFirst(2))
                continue
            }
            // An unclosed "[[": hold it back while it could still become a placeholder.
            if candidate.utf8.count < longest, values.keys.contains(where: { $0.hasPrefix(candidate) }) {
                pending = String(candidate)
                return output
            }
            output += "[["
            pending = String(candidate.dropFirst(2))
        }
        // A trailing "[" could be the start of "[[".
        if pending.hasSuffix("[") {
            output += pending.dropLast()
            pending = "["
        } else {
            output += pending
            pending = ""
        }
        return output
    }

    /// What is still held back, at the end of the stream.
    public mutating func finish() -> String {
        defer { pending = "" }
        return pending
    }
}
