import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct RequestLogTests {
    typealias Support = SimulatorTestSupport

    func log(_ client: some TestClientProtocol) async throws -> [JSONValue] {
        try await client.execute(uri: "/_simulator/requests", method: .get) { response in
            #expect(response.status == .ok)
            return try #require(Support.json(response.body)["requests"]?.arrayValue)
        }
    }

    @Test func recordsTraceparentAndAuthorizationSchemeButNoKeys() async throws {
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        try await Support.app().test(.router) { client in
            let anthropicHeaders = Support.headers([
                "x-api-key": "secret-key", "anthropic-version": "2023-06-01", "traceparent": traceparent,
                "X-Simulator-Seed": "3", "X-Other-Header": "not-recorded",
            ])
            let body = ByteBuffer(string: #"{"model":"claude-x","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#)
            try await client.execute(uri: "/v1/messages", method: .post, headers: anthropicHeaders, body: body)
            var entries = try await log(client)
            let anthropic = try #require(entries.last)
            #expect(anthropic == .object([
                "method": .string("POST"), "path": .string("/v1/messages"), "model": .string("claude-x"),
                "traceparent": .string(traceparent), "authorization_scheme": .string("x-api-key"),
                "anthropic_version": .string("2023-06-01"), "headers": .object(["x-simulator-seed": .string("3")]),
            ]))

            try await client.execute(
                uri: "/v1/chat/completions?x=1", method: .post, headers: Support.headers(["authorization": "Bearer sk-secret"]), body: Support.chatBody(model: "m")
            )
            entries = try await log(client)
            let openAI = try #require(entries.last)
            #expect(openAI == .object([
                "method": .string("POST"), "path": .string("/v1/chat/completions"), "model": .string("m"),
                "traceparent": .null, "authorization_scheme": .string("bearer"), "anthropic_version": .null, "headers": .object([:]),
            ]))
            // The log's own reads are logged too, and nothing anywhere holds a key.
            #expect(entries.contains { $0["path"]?.stringValue == "/_simulator/requests" })
            let text = try String(buffer: WireJSON.encode(JSONValue.array(entries)))
            #expect(!text.contains("secret"))
        }
    }

    @Test func badBodiesAreLoggedWithTheirModel() async throws {
        try await Support.app().test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: #"{"model":"broken"}"#))
            let entry = try #require(try await log(client).last)
            #expect(entry["model"]?.stringValue == "broken")
        }
    }

    @Test func keepsTheLast100RequestsOldestFirst() async throws {
        try await Support.app().test(.router) { client in
            for index in 0..<105 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody(model: "ring-\(index)"))
            }
            let entries = try await log(client)
            #expect(entries.count == 100)
            #expect(entries.first?["model"]?.stringValue == "ring-5")
            #expect(entries.last?["model"]?.stringValue == "ring-104")
            try await client.execute(uri: "/_simulator/requests", method: .delete)
            #expect(try await log(client).isEmpty)
        }
    }
}
