public import ArchwayCore

/// The OpenAI `POST /v1/embeddings` body.
public struct OpenAIEmbeddingRequest: Codable, Sendable {
    public var request: EmbeddingRequest

    public init(_ request: EmbeddingRequest) {
        self.request = request
    }

    enum CodingKeys: String, CodingKey {
        case model, input, dimensions, user
        case encodingFormat = "encoding_format"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let model = try container.decode(String.self, forKey: .model)
        let input = try container.decode(JSONValue.self, forKey: .input)
        switch input {
        case .string, .array: break
        default: throw container.invalid(.input, "must be a string, an array of strings or an array of token arrays")
        }
        if input == .array([]) { throw container.invalid(.input, "must not be empty") }
        let format = try container.decodeIfPresent(String.self, forKey: .encodingFormat)
        if let format, format != "float", format != "base64" {
            throw container.invalid(.encodingFormat, "must be float or base64")
        }
        request = EmbeddingRequest(
            model: model,
            input: input,
            encodingFormat: format,
            dimensions: try container.decodeIfPresent(Int.self, forKey: .dimensions),
            user: try container.decodeIfPresent(String.self, forKey: .user)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(request.model, forKey: .model)
        try container.encode(request.input, forKey: .input)
        try container.encodeIfPresent(request.encodingFormat, forKey: .encodingFormat)
        try container.encodeIfPresent(request.dimensions, forKey: .dimensions)
        try container.encodeIfPresent(request.user, forKey: .user)
    }
}

/// The OpenAI embeddings answer.
public struct OpenAIEmbeddingResponse: Codable, Sendable {
    public var response: EmbeddingResponse

    public init(_ response: EmbeddingResponse) {
        self.response = response
    }

    enum CodingKeys: String, CodingKey {
        case object, data, model, usage
    }

    struct Item: Codable {
        var object = "embedding"
        var index: Int
        var embedding: JSONValue
    }

    struct UsageBody: Codable {
        var promptTokens: Int
        var totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case totalTokens = "total_tokens"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let items = try container.decode([Item].self, forKey: .data).sorted { $0.index < $1.index }
        let usage = try container.decodeIfPresent(UsageBody.self, forKey: .usage)
        response = EmbeddingResponse(
            model: try container.decodeIfPresent(String.self, forKey: .model) ?? "",
            vectors: items.map { item in
                switch item.embedding {
                case .string(let base64): .base64(base64)
                case .array(let values): .floats(values.map { $0.doubleValue ?? 0 })
                default: .floats([])
                }
            },
            usage: Usage(inputTokens: usage?.promptTokens ?? 0, outputTokens: 0)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("list", forKey: .object)
        var data = container.nestedUnkeyedContainer(forKey: .data)
        for (index, vector) in response.vectors.enumerated() {
            let embedding: JSONValue = switch vector {
            case .base64(let text): .string(text)
            case .floats(let values): .array(values.map(JSONValue.number))
            }
            try data.encode(Item(index: index, embedding: embedding))
        }
        try container.encode(response.model, forKey: .model)
        try container.encode(UsageBody(promptTokens: response.usage.inputTokens, totalTokens: response.usage.inputTokens), forKey: .usage)
    }
}

/// `GET /v1/models`.
public struct OpenAIModelList: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public var id: String
        public var object = "model"
        public var created: Int
        public var ownedBy: String

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }

        public init(id: String, created: Int, ownedBy: String) {
            self.id = id
            self.created = created
            self.ownedBy = ownedBy
        }
    }

    public var object = "list"
    public var data: [Model]

    public init(data: [Model]) {
        self.data = data
    }
}
