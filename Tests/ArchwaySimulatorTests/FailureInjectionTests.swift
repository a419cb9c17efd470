import ArchwayConfig
import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite struct FailureInjectionTests {
    typealias Support = SimulatorTestSupport

    @Test func errorRateOneAlwaysFailsWithTheConfiguredStatus() async throws {
        var settings = Support.fastSettings
        settings.errorRate = 1
        settings.errorStatus = 503
        try await Support.app(settings).test(.router) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody()) { response in
                    #expect(response.status == .serviceUnavailable)
                    let error = try #require(Support.json(response.body)["error"])
                    #expect(error == .object([
                        "message": .string("simulated upstream failure"), "type": .string("server_error"),
                        "param": .null, "code": .string("simulated"),
                    ]))
                }
            }
            // The header overrides the setting.
            let headers = Support.headers(["x-simulator-error-rate": "0"])
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: Support.chatBody()) { response in
                #expect(response.status == .ok)
            }
            // Readiness probes are never failed.
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func errorHeadersPickStatusAndAnthropicEnvelope() async throws {
        try await Support.app().test(.router) { client in
            let headers = Support.headers(["x-simulator-error-rate": "1", "x-simulator-error-status": "529"])
            let body = ByteBuffer(string: #"{"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#)
            try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: body) { response in
                #expect(response.status.code == 529)
                let json = try Support.json(response.body)
                #expect(json["type"]?.stringValue == "error")
                #expect(json["error"]?["type"]?.stringValue == "overloaded_error")
            }
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        try await Support.app().test(.router) { client in
            let headers = Support.headers(["x-simulator-rate-limit-rate": "1"])
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: Support.chatBody()) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[HTTPField.Name("retry-after")!] == "1")
                let json = try Support.json(response.body)
                #expect(json["error"]?["type"]?.stringValue == "rate_limit_error")
            }
        }
    }

    @Test func halfErrorRateAlternates() async throws {
        var settings = Support.fastSettings
        settings.errorRate = 0.5
        try await Support.app(settings).test(.router) { client in
            var statuses: [Int] = []
            for _ in 0..<6 {
                statuses.append(try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody()) { $0.status.code })
            }
            #expect(statuses.filter { $0 == 500 }.count == 3, "\(statuses)")
            for (previous, next) in zip(statuses, statuses.dropFirst()) { #expect(previous != next, "\(statuses)") }
        }
    }

    @Test func rateLimitHeadersCountDown() async throws {
        try await Support.app().test(.router) { client in
            var remaining: [Int] = []
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Support.chatBody()) { response in
                    remaining.append(Int(response.headers[HTTPField.Name("x-ratelimit-remaining-requests")!] ?? "") ?? -1)
                }
            }
            #expect(remaining == [9_999, 9_998, 9_997])
        }
    }

    @Test func breakAfterEndsTheStreamWithoutDone() async throws {
        let body = Support.chatBody("break", extra: #","stream":true"#)
        let headers = Support.headers(["x-simulator-break-after": "2"])
        _ = try await Support.app().test(.router) { client in
            // In-process, the body writer's error reaches the client instead of a closed connection.
            await #expect(throws: (any Error).self) {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body)
            }
        }
    }

    @Test func breakAfterClosesTheConnectionMidStream() async throws {
        let app = Simulator.makeApplication(host: "127.0.0.1", port: 0, settings: Support.fastSettings, logger: Logger(label: "simulator-test"))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let openAI = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"break"}]}"#

            let complete = try await RawHTTPClient.exchange(port: port, path: "/v1/chat/completions", headers: ["Connection": "close"], body: openAI)
            #expect(complete.contains("data: [DONE]"))
            #expect(complete.hasSuffix("0\r\n\r\n"), "a complete chunked body ends with the last-chunk marker")

            let broken = try await RawHTTPClient.exchange(port: port, path: "/v1/chat/completions", headers: ["x-simulator-break-after": "2"], body: openAI)
            #expect(broken.hasPrefix("HTTP/1.1 200"))
            #expect(!broken.contains("[DONE]"))
            #expect(!broken.contains(#""finish_reason":"stop""#))
            #expect(!broken.hasSuffix("0\r\n\r\n"), "the connection must close without the last chunk")
            // Token chunks are the ones with non-empty content (the role chunk's is empty).
            let contentFields = broken.components(separatedBy: #""content":""#).count - 1
            let emptyContents = broken.components(separatedBy: #""content":"""#).count - 1
            #expect(contentFields - emptyContents == 2, "\(broken)")

            let anthropic = #"{"model":"claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"break"}]}"#
            let brokenAnthropic = try await RawHTTPClient.exchange(port: port, path: "/v1/messages", headers: ["x-simulator-break-after": "1"], body: anthropic)
            #expect(brokenAnthropic.contains("event: message_start"))
            #expect(brokenAnthropic.components(separatedBy: "event: content_block_delta").count - 1 == 1)
            #expect(!brokenAnthropic.contains("message_stop"))
        }
    }
}
