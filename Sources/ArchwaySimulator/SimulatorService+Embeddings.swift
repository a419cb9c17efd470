import ArchwayCore
import ArchwayWire
import Hummingbird

extension SimulatorService {
    /// `POST /v1/embeddings`: deterministic unit vectors, as floats or base64 (the openai SDK's default).
    func embeddings(_ request: Request, context: some RequestContext) async throws -> Response {
        try await simulate(
            request,
            context: context,
            errorShape: .openAI,
            decode: { buffer throws(GatewayError) in try WireJSON.decodeRequest(OpenAIEmbeddingRequest.self, from: buffer).request },
            model: \.model
        ) { embedding, call in
            let dimensions = embedding.dimensions ?? SimulatedEmbedding.defaultDimensions
            guard (1...SimulatedEmbedding.maxDimensions).contains(dimensions) else {
                throw GatewayError.invalidRequest(
                    "'dimensions' must be between 1 and \(SimulatedEmbedding.maxDimensions).",
                    param: "dimensions",
                    code: "invalid_value"
                )
            }
            let items = try SimulatedEmbedding.items(of: embedding.input)
            let base64 = embedding.encodingFormat == "base64"
            let vectors: [EmbeddingResponse.Vector] = items.map { item in
                let vector = SimulatedEmbedding.vector(for: item.key, dimensions: dimensions, seed: call.options.seed)
                return base64 ? .base64(SimulatedEmbedding.base64(vector)) : .floats(vector.map(Double.init))
            }
            let tokens = items.reduce(0) { $0 + $1.tokens }
            let headers = successHeaders(tokens: tokens, call: call)
            try await Self.pause(call.options.latency)
            let response = EmbeddingResponse(model: embedding.model, vectors: vectors, usage: Usage(inputTokens: tokens, outputTokens: 0))
            return try jsonResponse(OpenAIEmbeddingResponse(response), headers: headers)
        }
    }
}
