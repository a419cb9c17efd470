import ArchwayCore
import ArchwayWire
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing
import Tracing

/// OpenAI wire to OpenAI wire: the client's body reaches the upstream as sent (model rewritten), and the
/// upstream's answer reaches the client as sent (model rewritten), fields Archway does not model included.
@Suite struct OpenAIPassthroughIntegrationTests {
    /// A canned OpenAI-compatible upstream that remembers the bodies it was sent.
    final class CannedUpstream: Sendable {
        let received = Mutex<[String]>([])

        static let completion = #"{"id":"chatcmpl-up","object":"chat.completion","created":1700000000,"model":"gpt-up-2025","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":3}},"service_tier":"flex","system_fingerprint":"fp_up"}"#

        static let events = [
            #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up-2025","service_tier":"flex","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up-2025","service_tier":"flex","choices":[{"index":0,"delta":{"content":"lo"},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
            #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up-2025","service_tier":"flex","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}"#,
        ]

        func application(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
            let router = Router()
            router.post("/v1/chat/completions") { request, _ -> Response in
                let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
                self.received.withLock { $0.append(body) }
                guard body.contains(#""stream":true"#) else {
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: Self.completion)))
                }
                let stream = Self.events.map { "data: \($0)\n\n" }.joined() + "data: [DONE]\n\n"
                return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(byteBuffer: ByteBuffer(string: stream)))
            }
            var logger = Logger(label: "canned-upstream")
            logger.logLevel = .warning
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? 0)
            }, logger: logger)
        }
    }

    /// Runs `test` against a gateway whose model `alias` is `gpt-up` on the canned upstream.
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, CannedUpstream, GatewayTestHarness) async throws -> Void) async throws {
        let upstream = CannedUpstream()
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = upstream.application { port in portContinuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            let serviceGroup = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "canned-upstream")))
            group.addTask { try await serviceGroup.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let harness = try GatewayTestHarness(yaml: """
            listen: 127.0.0.1:0
            upstream: {max_retries: 0}
            providers:
              up:
                kind: openai
                base_url: http://127.0.0.1:\(port)/v1
                api_key: sk-test
            models:
              alias:
                provider: up
                model: gpt-up
                price: {input: 1.0, output: 2.0}
            """)
            try await harness.run { client in try await test(client, upstream, harness) }
            await serviceGroup.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    @Test func aCompletionTravelsAsBytesBothWays() async throws {
        try await withGateway { client, upstream, harness in
            let body = #"{"model":"alias","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5,"metadata":{"k":"v"}}"#
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == CannedUpstream.completion.replacingOccurrences(of: #""model":"gpt-up-2025""#, with: #""model":"alias""#))
            #expect(upstream.received.withLock { $0 } == [body.replacingOccurrences(of: #""model":"alias""#, with: #""model":"gpt-up""#)])

            let spans = try await harness.finishedSpans(count: 3)
            let genAI = try #require(spans.first { $0.operationName == "chat gpt-up" })
            #expect(genAI.attributes["gen_ai.response.id"]?.toSpanAttribute() == .string("chatcmpl-up"))
            #expect(genAI.attributes["gen_ai.response.model"]?.toSpanAttribute() == .string("gpt-up-2025"))
            #expect(genAI.attributes["gen_ai.usage.input_tokens"]?.toSpanAttribute() == .int64(11))
            #expect(genAI.attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute() == .int64(2))
            #expect(genAI.attributes["gen_ai.usage.cache_read.input_tokens"]?.toSpanAttribute() == .int64(3))
            #expect(genAI.attributes["gen_ai.response.finish_reasons"]?.toSpanAttribute() == .stringArray(["stop"]))
        }
    }

    /// Chat Completions' custom tools, `allowed_tools` and custom tool calls in the history are the OpenAI
    /// wire's own: relayed as they came to an OpenAI-wire provider.
    @Test func customToolsAndAllowedToolsAreRelayed() async throws {
        try await withGateway { client, upstream, _ in
            let body = #"{"model":"alias","messages":[{"role":"user","content":"run"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"custom","custom":{"name":"code_exec","input":"print(1)"}}]},{"role":"tool","tool_call_id":"c1","content":"1"}],"tools":[{"type":"custom","custom":{"name":"code_exec","description":"Runs code"}},{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"custom","custom":{"name":"code_exec"}}]}}}"#
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            #expect(upstream.received.withLock { $0 } == [body.replacingOccurrences(of: #""model":"alias""#, with: #""model":"gpt-up""#)])
        }
    }

    @Test func streamEventsTravelAsBytesAndUnaskedUsageIsDropped() async throws {
        try await withGateway { client, upstream, harness in
            let body = #"{"model":"alias","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            var parser = SSEParser()
            parser.append(response.body)
            var data: [String] = []
            while let event = parser.nextEvent() { data.append(event.data) }
            // The usage chunk was asked for upstream (telemetry needs it) but not by the client.
            let expected = CannedUpstream.events.prefix(2).map { $0.replacingOccurrences(of: #""model":"gpt-up-2025""#, with: #""model":"alias""#) } + ["[DONE]"]
            #expect(data == expected)
            let forwarded = try #require(upstream.received.withLock { $0.first })
            let upstreamBody = try WireJSON.decode(JSONValue.self, from: forwarded)
            #expect(upstreamBody["model"] == .string("gpt-up"))
            #expect(upstreamBody["stream_options"]?["include_usage"] == .bool(true))

            let spans = try await harness.finishedSpans(count: 3)
            let genAI = try #require(spans.first { $0.operationName == "chat gpt-up" })
            #expect(genAI.attributes["gen_ai.usage.output_tokens"]?.toSpanAttribute() == .int64(2))
            #expect(genAI.attributes["gen_ai.response.finish_reasons"]?.toSpanAttribute() == .stringArray(["stop"]))
            #expect(genAI.attributes["gen_ai.response.time_to_first_chunk"] != nil)
        }
    }
}
