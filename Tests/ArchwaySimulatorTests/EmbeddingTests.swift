import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import Foundation
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct EmbeddingTests {
    typealias Support = SimulatorTestSupport

    func embed(_ client: some TestClientProtocol, _ body: String) async throws -> JSONValue {
        try await client.execute(uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: body)) { response in
            #expect(response.status == .ok)
            return try Support.json(response.body)
        }
    }

    @Test func floatAndBase64CarryTheSameNumbers() async throws {
        try await Support.app().test(.router) { client in
            let floats = try await embed(client, #"{"model":"e","input":["alpha","beta"]}"#)
            let base64 = try await embed(client, #"{"model":"e","input":["alpha","beta"],"encoding_format":"base64"}"#)
            #expect(floats["object"]?.stringValue == "list")
            #expect(floats["data"]?.arrayValue?.count == 2)
            #expect((floats["usage"]?["prompt_tokens"]?.number ?? 0) >= 2)
            for index in 0..<2 {
                let values = floats["data"]?[index]?["embedding"]?.arrayValue ?? []
                let vector = values.compactMap(\.number)
                #expect(vector.count == 8)
                let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(norm - 1) < 1e-5)
                let encoded = try #require(base64["data"]?[index]?["embedding"]?.stringValue)
                let data = try #require(Data(base64Encoded: encoded))
                let decoded = stride(from: 0, to: data.count, by: 4).map { offset in
                    let bits = data[offset..<offset + 4].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
                    return Double(Float(bitPattern: bits))
                }
                #expect(decoded == vector)
            }
            let alpha = floats["data"]?[0]?["embedding"]
            let beta = floats["data"]?[1]?["embedding"]
            #expect(alpha != beta)
        }
    }

    @Test func vectorsAreDeterministicAndHonorDimensions() async throws {
        try await Support.app().test(.router) { client in
            let first = try await embed(client, #"{"model":"e","input":"same text","dimensions":32}"#)
            let second = try await embed(client, #"{"model":"e","input":"same text","dimensions":32}"#)
            #expect(first["data"]?[0]?["embedding"]?.arrayValue?.count == 32)
            #expect(first["data"]?[0]?["embedding"] == second["data"]?[0]?["embedding"])
            let tokens = try await embed(client, #"{"model":"e","input":[[1,2,3],[4,5]]}"#)
            #expect(tokens["data"]?.arrayValue?.count == 2)
            #expect(tokens["usage"]?["prompt_tokens"]?.number == 5)
        }
    }

    @Test func invalidInputIsA400() async throws {
        try await Support.app().test(.router) { client in
            for body in [#"{"model":"e","input":42}"#, #"{"model":"e","input":"x","dimensions":0}"#, #"{"model":"e","input":"x","encoding_format":"hex"}"#] {
                try await client.execute(uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest)
                    let json = try Support.json(response.body)
                    #expect(json["error"]?["type"]?.stringValue == "invalid_request_error")
                }
            }
        }
    }
}
