/// An embeddings request. The input is kept as sent (a string, strings, or token arrays) because
/// upstreams accept the same shapes.
public struct EmbeddingRequest: Sendable, Hashable {
    public var model: String
    public var input: JSONValue
    /// `float` or `base64`.
    public var encodingFormat: String?
    public var dimensions: Int?
    public var user: String?

    public init(model: String, input: JSONValue, encodingFormat: String? = nil, dimensions: Int? = nil, user: String? = nil) {
        self.model = model
        self.input = input
        self.encodingFormat = encodingFormat
        self.dimensions = dimensions
        self.user = user
    }

    /// The texts to embed, when the input is text (token-array inputs give nil).
    public var texts: [String]? {
        switch input {
        case .string(let value): return [value]
        case .array(let values):
            var texts: [String] = []
            for value in values {
                guard case .string(let text) = value else { return nil }
                texts.append(text)
            }
            return texts
        default: return nil
        }
    }
}

/// An embeddings answer; each vector is either floats or the base64 of little-endian float32s,
/// matching the requested `encoding_format`.
public struct EmbeddingResponse: Sendable, Hashable {
    public enum Vector: Sendable, Hashable {
        case floats([Double])
        case base64(String)
    }

    public var model: String
    public var vectors: [Vector]
    public var usage: Usage

    public init(model: String, vectors: [Vector], usage: Usage) {
        self.model = model
        self.vectors = vectors
        self.usage = usage
    }
}
