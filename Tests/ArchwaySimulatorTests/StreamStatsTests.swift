import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite struct StreamStatsTests {
    typealias Support = SimulatorTestSupport

    func stats(_ client: some TestClientProtocol) async throws -> JSONValue {
        try await client.execute(uri: "/_simulator/stats", method: .get) { response in
            #expect(response.status == .ok)
            return try #require(Support.json(response.body)["streams"])
        }
    }

    static func counts(started: Int = 0, completed: Int = 0, cancelled: Int = 0, broken: Int = 0) -> JSONValue {
        .object([
            "started": .number(Double(started)), "completed": .number(Double(completed)),
            "cancelled": .number(Double(cancelled)), "broken": .number(Double(broken)),
        ])
    }

    @Test func countsCompletedAndBrokenStreamsOfBothWires() async throws {
        let openAI = Support.chatBody("count me", extra: #","stream":true"#)
        let anthropic = ByteBuffer(string: #"{"model":"claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"count me"}]}"#)
        try await Support.app().test(.router) { client in
            #expect(try await stats(client) == Self.counts())

            // A non-streamed answer is not a stream.
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody())
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: openAI) { response in
                #expect(String(buffer: response.body).contains("[DONE]"))
            }
            try await client.execute(uri: "/v1/messages", method: .post, body: anthropic) { response in
                #expect(String(buffer: response.body).contains("message_stop"))
            }
            #expect(try await stats(client) == Self.counts(started: 2, completed: 2))

            let breakHeaders = Support.headers(["x-simulator-break-after": "1"])
            // In-process, the body writer's error reaches the client.
            _ = try? await client.execute(uri: "/v1/chat/completions", method: .post, headers: breakHeaders, body: openAI)
            _ = try? await client.execute(uri: "/v1/messages", method: .post, headers: breakHeaders, body: anthropic)
            #expect(try await stats(client) == Self.counts(started: 4, completed: 2, broken: 2))

            // Reading the stats is not logged: polling them leaves the request log alone.
            let paths = try await client.execute(uri: "/_simulator/requests", method: .get) { response in
                try #require(Support.json(response.body)["requests"]?.arrayValue).compactMap { $0["path"]?.stringValue }
            }
            #expect(!paths.contains("/_simulator/stats"))
        }
    }

    /// A client that reads the start of a slow stream and closes the connection: the simulator stops
    /// writing (the stream is counted cancelled, never completed) within moments, not at the stream's end.
    @Test(arguments: ["/v1/chat/completions", "/v1/messages"])
    func countsAStreamWhoseClientDisconnectsAsCancelled(path: String) async throws {
        let app = Simulator.makeApplication(host: "127.0.0.1", port: 0, settings: Support.fastSettings, logger: Logger(label: "simulator-test"))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let body = path == "/v1/messages"
                ? #"{"model":"claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"go away"}]}"#
                : #"{"model":"m","stream":true,"messages":[{"role":"user","content":"go away"}]}"#
            // 12 to 24 tokens at 5 per second: the whole stream would take several seconds.
            let start = ContinuousClock.now
            let received = try await RawHTTPClient.readThenDisconnect(
                port: port, path: path, headers: ["x-simulator-tokens-per-second": "5"], body: body,
                until: path == "/v1/messages" ? "event: content_block_delta" : #""content":""#, count: 3
            )
            #expect(received.hasPrefix("HTTP/1.1 200"))

            var streams = try await stats(client)
            while streams["cancelled"]?.number != 1, start.duration(to: .now) < .seconds(3) {
                try await Task.sleep(for: .milliseconds(20))
                streams = try await stats(client)
            }
            #expect(streams == Self.counts(started: 1, cancelled: 1), "after \(start.duration(to: .now))")
        }
    }
}
