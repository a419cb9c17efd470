import ArchwayCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Deterministic stand-in embeddings: a unit vector drawn from a PRNG seeded by the input, so equal
/// inputs embed equally and the vectors behave like real ones under cosine similarity.
enum SimulatedEmbedding {
    static let defaultDimensions = 8
    static let maxDimensions = 8192

    /// One input to embed: its identity for seeding and its token count.
    struct Item: Sendable {
        var key: String
        var tokens: Int
    }

    /// The inputs of an embeddings request: a string, strings, one token array or token arrays.
    static func items(of input: JSONValue) throws(GatewayError) -> [Item] {
        switch input {
        case .string(let text):
            return [Item(key: text, tokens: max(1, TokenEstimator.estimate(text)))]
        case .array(let values):
            if let texts = strings(values) {
                return texts.map { Item(key: $0, tokens: max(1, TokenEstimator.estimate($0))) }
            }
            if let tokens = tokenArray(values) {
                return [tokenItem(tokens)]
            }
            var items: [Item] = []
            for value in values {
                guard case .array(let inner) = value, let tokens = tokenArray(inner), !tokens.isEmpty else {
                    throw invalidInput
                }
                items.append(tokenItem(tokens))
            }
            return items
        default:
            throw invalidInput
        }
    }

    /// A unit-length vector of `Float`s (what the base64 wire carries), so the float and base64
    /// encodings of one input hold exactly the same numbers.
    static func vector(for key: String, dimensions: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: SplitMix64.mix(seed ^ FNV1a.hash(key)))
        let raw = (0..<dimensions).map { _ in random.nextUnit() * 2 - 1 }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return [Float](repeating: 0, count: dimensions) }
        return raw.map { Float($0 / norm) }
    }

    /// Base64 of the little-endian float32 bytes, the OpenAI `encoding_format: base64` form.
    static func base64(_ vector: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return Data(bytes).base64EncodedString()
    }

    private static let invalidInput = GatewayError.invalidRequest(
        "'input' must be a string, an array of strings, or an array of token arrays.",
        param: "input"
    )

    private static func strings(_ values: [JSONValue]) -> [String]? {
        var texts: [String] = []
        for value in values {
            guard case .string(let text) = value else { return nil }
            texts.append(text)
        }
        return texts
    }

    private static func tokenArray(_ values: [JSONValue]) -> [Double]? {
        var tokens: [Double] = []
        for value in values {
            guard case .number(let token) = value else { return nil }
            tokens.append(token)
        }
        return tokens
    }

    private static func tokenItem(_ tokens: [Double]) -> Item {
        Item(key: tokens.map { String($0) }.joined(separator: ","), tokens: tokens.count)
    }
}
