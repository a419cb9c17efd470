import ArchwayCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How alike two answers are, in 0...1 (1: the same answer). The consistency score of a sampled answer
/// against the reference model's answer to the same request.
///
/// - Text: the mean of two measures over lower-cased words (letters and digits; everything else
///   separates): the F1 of the two bags of words (shared words over each answer's words, SQuAD-style)
///   and the Dice coefficient of their character trigrams (so "cities"/"city" still count as close).
///   Identical answers score 1; paraphrases that keep the content words typically 0.5–0.8; unrelated
///   answers near 0.
/// - JSON (both answers parse as a JSON object or array): compared by structure. Objects: the mean
///   over the union of keys (a key only one side has scores 0); arrays: the mean by position over the
///   longer one; strings by the text measure; numbers by relative difference; other values equal or not.
public enum AnswerSimilarity {
    public static func score(_ answer: String, _ reference: String) -> Double {
        if let left = json(answer), let right = json(reference) {
            return structure(left, right)
        }
        return text(answer, reference)
    }

    /// The text measure alone.
    public static func text(_ answer: String, _ reference: String) -> Double {
        let left = words(answer)
        let right = words(reference)
        if left.isEmpty && right.isEmpty { return 1 }
        if left.isEmpty || right.isEmpty { return 0 }
        return (wordF1(left, right) + trigramDice(left, right)) / 2
    }

    /// Cosine similarity of two embeddings, floored at 0 (opposite directions count as unrelated).
    public static func cosine(_ left: [Double], _ right: [Double]) -> Double {
        guard left.count == right.count, !left.isEmpty else { return 0 }
        var dot = 0.0
        var leftNorm = 0.0
        var rightNorm = 0.0
        for index in left.indices {
            dot += left[index] * right[index]
            leftNorm += left[index] * left[index]
            rightNorm += right[index] * right[index]
        }
        guard leftNorm > 0, rightNorm > 0 else { return leftNorm == rightNorm ? 1 : 0 }
        return min(1, max(0, dot / (leftNorm.squareRoot() * rightNorm.squareRoot())))
    }

    static func words(_ text: String) -> [Substring] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }
    }

    static func wordF1(_ left: [Substring], _ right: [Substring]) -> Double {
        let shared = sharedCount(left, right)
        guard shared > 0 else { return 0 }
        let precision = Double(shared) / Double(left.count)
        let recall = Double(shared) / Double(right.count)
        return 2 * precision * recall / (precision + recall)
    }

    static func trigramDice(_ left: [Substring], _ right: [Substring]) -> Double {
        let a = trigrams(left)
        let b = trigrams(right)
        guard !a.isEmpty || !b.isEmpty else { return 1 }
        return 2 * Double(sharedCount(a, b)) / Double(a.count + b.count)
    }

    /// How many items the two bags share (each counted as often as both have it).
    static func sharedCount<Item: Hashable>(_ left: [Item], _ right: [Item]) -> Int {
        var counts: [Item: Int] = [:]
        counts.reserveCapacity(right.count)
        for item in right { counts[item, default: 0] += 1 }
        var shared = 0
        for item in left {
            if let count = counts[item], count > 0 {
                shared += 1
                counts[item] = count - 1
            }
        }
        return shared
    }

    /// Trigrams of each word padded with a space on either side (so short words count too), each packed
    /// into one integer (three 21-bit scalars).
    static func trigrams(_ words: [Substring]) -> [UInt64] {
        var grams: [UInt64] = []
        for word in words {
            var window: (UInt64, UInt64) = (32, 32)  // the two scalars before, starting with the padding space
            var length = 1
            for scalar in word.unicodeScalars {
                length += 1
                if length >= 3 { grams.append(window.0 << 42 | window.1 << 21 | UInt64(scalar.value)) }
                window = (window.1, UInt64(scalar.value))
            }
            length += 1
            if length >= 3 { grams.append(window.0 << 42 | window.1 << 21 | 32) }
        }
        return grams
    }

    static func json(_ text: String) -> JSONValue? {
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = trimmed.first, first == "{" || first == "[" else { return nil }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(trimmed.utf8)) else { return nil }
        switch value {
        case .object, .array: return value
        default: return nil
        }
    }

    static func structure(_ left: JSONValue, _ right: JSONValue) -> Double {
        switch (left, right) {
        case (.object(let a), .object(let b)):
            let keys = Set(a.keys).union(b.keys)
            guard !keys.isEmpty else { return 1 }
            var total = 0.0
            for key in keys {
                if let x = a[key], let y = b[key] { total += structure(x, y) }
            }
            return total / Double(keys.count)
        case (.array(let a), .array(let b)):
            let length = max(a.count, b.count)
            guard length > 0 else { return 1 }
            var total = 0.0
            for index in 0..<min(a.count, b.count) { total += structure(a[index], b[index]) }
            return total / Double(length)
        case (.string(let a), .string(let b)):
            return text(a, b)
        case (.integer(let a), .integer(let b)):
            // Past 2^53 the doubles below could not tell two ids apart.
            return a == b ? 1 : 0
        case (.number, .number), (.number, .integer), (.integer, .number):
            guard let a = left.doubleValue, let b = right.doubleValue else { return 0 }
            if a == b { return 1 }
            let scale = max(abs(a), abs(b))
            return scale > 0 ? max(0, 1 - abs(a - b) / scale) : 1
        case (.bool(let a), .bool(let b)):
            return a == b ? 1 : 0
        case (.null, .null):
            return 1
        default:
            return 0
        }
    }
}
