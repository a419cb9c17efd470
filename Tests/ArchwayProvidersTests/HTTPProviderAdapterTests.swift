import ArchwayConfig
import ArchwayCore
@testable import ArchwayProviders
import ArchwayWire
import ArchwayTelemetry
import ArchwayTestSupport
import HTTPTypes
import Hummingbird
import InMemoryTracing
import NIOCore
import Testing
import Tracing

/// An adapter over a scripted upstream, with its HTTP spans in memory.
struct AdapterHarness {
    let tracer = InMemoryTracer()
    var provider: ProviderConfiguration
    let settings: UpstreamSettings

    init(base: String, kind: String = "openai", maxRetries: Int = 0) throws {
        let configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
        upstream: {max_retries: \(maxRetries), first_byte_timeout: 2s}
        providers:
          up: {kind: \(kind), base_url: "\(base)", api_key: sk-live-abcdef123456}
        models:
          m: {provider: up, model: m-upstream}
        """)
        provider = try #require(configuration.providers["up"])
        settings = configuration.upstream
    }

    func run<Value: Sendable>(_ body: @Sendable (HTTPProviderAdapter) async throws -> Value) async throws -> Value {
        try await UpstreamClients.with(settings: settings) { clients in
            try await body(HTTPProviderAdapter(provider: provider, transport: UpstreamTransport(clients: clients, settings: settings, tracer: tracer)))
        }
    }

    static func call(deadline: Duration = .seconds(5)) -> UpstreamCall {
        UpstreamCall(context: .topLevel, deadline: .now + deadline, model: "m-upstream")
    }

    static let request = Relayable(ChatRequest(model: "m", messages: [ChatMessage(role: .user, content: [.text("hi")])]))
    static let completion = #"{"id":"c","object":"chat.completion","created":1,"model":"m-upstream","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#
}

@Suite struct HTTPProviderAdapterTests {
    /// OpenAI's own API (its regional hosts too, any case) gets `max_completion_tokens`, which its reasoning
    /// models require; any other OpenAI-wire server, Azure's older api-versions among them, keeps `max_tokens`.
    @Test(arguments: [
        ("https://api.openai.com/v1", true), ("https://eu.api.openai.com/v1", true), ("https://API.OpenAI.com/v1", true),
        ("https://my.openai.azure.com/openai/deployments/d", false), ("http://127.0.0.1:8000/v1", false),
        ("https://api.openai.com.evil.example/v1", false),
    ])
    func onlyOpenAIsOwnAPIGetsTheNewCapName(base: String, completion: Bool) async throws {
        let harness = try AdapterHarness(base: base)
        try await harness.run { adapter in #expect(adapter.sendsMaxCompletionTokens == completion) }
    }

    @Test func theHostHeaderNamesTheUpstreamOnce() async throws {
        let upstream = RawUpstream { _ in .json(AdapterHarness.completion) }
        let port = try await upstream.run { (origin: UpstreamOrigin) async throws -> Int in
            for extra in ["", ", headers: {x-team: a}"] {
                let configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
                providers:
                  up: {kind: openai, base_url: "http://127.0.0.1:\(origin.port)/v1"\(extra)}
                models:
                  m: {provider: up, model: m-upstream}
                """)
                let provider = try #require(configuration.providers["up"])
                try await UpstreamClients.with(settings: configuration.upstream) { clients in
                    let transport = UpstreamTransport(clients: clients, settings: configuration.upstream, tracer: InMemoryTracer())
                    _ = try await HTTPProviderAdapter(provider: provider, transport: transport).chat(AdapterHarness.request, call: AdapterHarness.call())
                }
            }
            return origin.port
        }
        #expect(upstream.counts.hosts == ["127.0.0.1:\(port)", "127.0.0.1:\(port)"])
    }

    @Test func retryableFailuresAreRetriedWithOneSpanPerAttempt() async throws {
        let upstream = ScriptedUpstream { _, index in
            index < 2 ? .scriptedJSON(#"{"error":{"message":"busy"}}"#, status: .serviceUnavailable) : .scriptedJSON(AdapterHarness.completion)
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1", maxRetries: 2)
            let call = AdapterHarness.call()
            let reply = try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: call) }
            #expect(reply.value.id == "c")
            #expect(call.attempts.value == 3)
            let spans = harness.tracer.finishedSpans.filter { $0.operationName == "POST" }
            #expect(spans.count == 3)
            #expect(spans.map { $0.attributes["http.request.resend_count"]?.toSpanAttribute() } == [nil, .int64(1), .int64(2)])
            #expect(spans.prefix(2).allSatisfy { $0.status?.code == .error })
        }
    }

    @Test func attemptsAreCountedWhenTheCallFailsAfterRetries() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"busy"}}"#, status: .tooManyRequests, headers: [.retryAfter: "0"]) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1", maxRetries: 1)
            let call = AdapterHarness.call()
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: call) }
            }
            #expect(error?.status == .tooManyRequests)
            #expect(call.attempts.value == 2)
        }
    }

    /// Azure OpenAI's endpoints take `?api-version=…`: a base URL's query follows every request's path,
    /// and `url.full` shows it without the values of credential-like parameters.
    @Test func aBaseURLsQueryFollowsEveryPathAndItsSecretsStayOutOfSpans() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/openai/deployments/d?api-version=2024-06-01&api-key=QUERYSECRET")
            _ = try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            let received = try #require(upstream.received.first)
            #expect(received.path == "/openai/deployments/d/chat/completions")
            #expect(received.query == "api-version=2024-06-01&api-key=QUERYSECRET")
            let span = try #require(harness.tracer.finishedSpans.first { $0.kind == .client })
            #expect(span.attributes["url.full"]?.toSpanAttribute() == .string(base + "/openai/deployments/d/chat/completions?api-version=2024-06-01&api-key=REDACTED"))
        }
        // A 404 names the path, never the query.
        let missing = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"no"}}"#, status: .notFound) }
        try await missing.run { base in
            let harness = try AdapterHarness(base: base + "/v1?code=QUERYSECRET")
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            }
            #expect(error?.message.contains("/v1/chat/completions") == true && error?.message.contains("QUERYSECRET") == false)
            let span = try #require(harness.tracer.finishedSpans.first { $0.kind == .client })
            #expect(span.attributes["url.full"]?.toSpanAttribute() == .string(base + "/v1/chat/completions?code=REDACTED"))
        }
    }

    /// OpenAI's tool messages carry text: a tool result's image block is refused, never dropped unsaid.
    @Test func aToolResultsImageIsRefusedForAnOpenAIWireProvider() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let image = try WireJSON.decode(JSONValue.self, from: #"{"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}"#)
            let request = Relayable(ChatRequest(model: "m", messages: [
                ChatMessage(role: .user, content: [.text("look")]),
                ChatMessage(role: .assistant, toolCalls: [ToolCall(id: "tu", name: "shot", arguments: "{}")]),
                ChatMessage(role: .tool, content: [.text("here"), .other(image)], contentIsText: false, toolCallID: "tu"),
            ]))
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(request, call: AdapterHarness.call()) }
            }
            #expect(error?.status == .badRequest && error?.code == "unsupported")
            #expect(upstream.received.isEmpty)
        }
    }

    @Test func aRefusalCarriesItsRetryAfterAndRateLimitHeadroom() async throws {
        let upstream = ScriptedUpstream { _, _ in
            .scriptedJSON(
                #"{"error":{"message":"slow down"}}"#,
                status: .tooManyRequests,
                headers: [.retryAfter: "7", HTTPField.Name("x-ratelimit-remaining-requests")!: "0", HTTPField.Name("x-ratelimit-remaining-tokens")!: "120"]
            )
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1", maxRetries: 0)
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            }
            #expect(error?.retryAfter == .seconds(7))
            #expect(error?.rateLimit == RateLimitHeadroom(remainingRequests: 0, remainingTokens: 120))
        }
    }

    /// `retry-after` in seconds or as an HTTP date (RFC 9110 §10.2.3).
    @Test func retryAfterIsReadInSecondsOrAsADate() {
        #expect(UpstreamTransport.retryAfter("7") == .seconds(7))
        #expect(UpstreamTransport.retryAfter("0.5") == .milliseconds(500))
        // 1994-11-06T08:49:37Z is 784111777.
        #expect(UpstreamTransport.imfFixdate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(UpstreamTransport.retryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now: 784_111_777) == .seconds(60))
        #expect(UpstreamTransport.retryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now: 784_111_777) == .seconds(0))
        #expect(UpstreamTransport.retryAfter("tomorrow") == nil)
        #expect(UpstreamTransport.retryAfter("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
    }

    /// Asked to wait longer than a retry may, the gateway does not ask again at once.
    @Test func aLongRetryAfterIsNotRetriedAtOnce() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"later"}}"#, status: .tooManyRequests, headers: [.retryAfter: "60"]) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1", maxRetries: 2)
            let call = AdapterHarness.call()
            let started = ContinuousClock.now
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: call) }
            }
            #expect(error?.retryAfter == .seconds(60))
            #expect(call.attempts.value == 1)
            #expect(started.duration(to: .now) < .seconds(2))
        }
    }

    @Test func aClientErrorIsNotRetried() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"bad"}}"#, status: .badRequest) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1", maxRetries: 3)
            let call = AdapterHarness.call()
            await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: call) }
            }
            #expect(call.attempts.value == 1)
        }
    }

    @Test func anUpstream404IsTheGatewaysConfigurationProblem() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"no such model"}}"#, status: .notFound) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            }
            #expect(error?.status == .badGateway)
            #expect(error?.code == "upstream_not_found")
            #expect(error?.message.contains("'up'") == true)
            #expect(error?.message.contains("/v1/chat/completions") == true)
            #expect(error?.message.contains("m-upstream") == true)
            #expect(error?.message.contains("sk-live") == false)
        }
    }

    /// An attempt whose call was cancelled ended in error as HTTP sees it: its span says `cancelled`.
    @Test func aCancelledAttemptsSpanHasAnErrorType() async throws {
        let upstream = ScriptedUpstream { _, _ in
            try await Task.sleep(for: .seconds(2))
            return .scriptedJSON(AdapterHarness.completion)
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            try await harness.run { adapter in
                let call = Task { try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
                try await Task.sleep(for: .milliseconds(200))
                call.cancel()
                _ = await call.result
            }
            let attempt = try #require(harness.tracer.finishedSpans.first { $0.operationName == "POST" })
            #expect(attempt.attributes["error.type"]?.toSpanAttribute() == .string("cancelled"))
        }
    }

    @Test func theDeadlineBecomesATimeout() async throws {
        let upstream = ScriptedUpstream { _, _ in
            try await Task.sleep(for: .seconds(2))
            return .scriptedJSON(AdapterHarness.completion)
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call(deadline: .milliseconds(150))) }
            }
            #expect(error?.shortDescription == "timeout")
            #expect(error?.isRetryable == true)
        }
    }

    @Test(arguments: [
        (["x-ratelimit-remaining-requests": "41", "x-ratelimit-remaining-tokens": "9000"], 41, 9000),
        (["anthropic-ratelimit-requests-remaining": "7", "anthropic-ratelimit-tokens-remaining": "120"], 7, 120),
        (["x-ratelimit-remaining-requests": "n/a"], nil, nil),
    ] as [([String: String], Int?, Int?)])
    func rateLimitHeadroomIsReadFromHeaders(headers: [String: String], requests: Int?, tokens: Int?) async throws {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        let upstream = ScriptedUpstream { [fields] _, _ in .scriptedJSON(AdapterHarness.completion, headers: fields) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let reply = try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            #expect(reply.rateLimit.remainingRequests == requests)
            #expect(reply.rateLimit.remainingTokens == tokens)
        }
    }

    @Test func aStreamThatEndsWithoutItsEndMarkerIsInterrupted() async throws {
        let chunk = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}"#
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents([chunk], done: false) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let (received, error) = try await harness.run { adapter in
                let reply = try await adapter.streamChat(AdapterHarness.request, call: AdapterHarness.call())
                var received = 0
                do {
                    for try await _ in reply.value { received += 1 }
                    return (received, nil as GatewayError?)
                } catch {
                    return (received, error as? GatewayError)
                }
            }
            #expect(received == 1)
            #expect(error?.code == "stream_interrupted")
            #expect(error?.allowsFallback == true)
        }
    }

    /// An error event in a stream is scrubbed of the provider's credentials as an error answer is: its key
    /// whatever its shape, and the values of its credential headers.
    @Test func aStreamErrorEventEchoingTheKeyIsScrubbed() async throws {
        let chunk = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#
        let failure = #"{"error":{"message":"key live-abcdef123456 and api-key 0123456789abcdef over quota"}}"#
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents([chunk, failure], done: false) }
        try await upstream.run { base in
            var harness = try AdapterHarness(base: base + "/v1")
            harness.provider.apiKey = "live-abcdef123456"
            harness.provider.headers = [(name: "api-key", value: "0123456789abcdef")]
            let error = try await harness.run { adapter in
                let reply = try await adapter.streamChat(AdapterHarness.request, call: AdapterHarness.call())
                do {
                    for try await _ in reply.value {}
                    return nil as GatewayError?
                } catch {
                    return error as? GatewayError
                }
            }
            let message = try #require(error?.message)
            #expect(!message.contains("live-abcdef123456") && !message.contains("0123456789abcdef"), "\(message)")
            #expect(message.contains("key [redacted] and api-key [redacted] over quota"))
        }
    }

    /// Events the client is not sent (a decoded Anthropic stream's thinking) count towards what is held
    /// before the first content: a model that thinks at length does not hold the client's headers.
    @Test func thinkingCountsTowardsWhatIsHeldBeforeTheFirstContent() async throws {
        let upstream = ScriptedUpstream { _, _ in
            Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"))
                for _ in 0..<40 {
                    try await writer.write(ByteBuffer(string: "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}\n\n"))
                }
                try await Task.sleep(for: .milliseconds(1500))
                try await writer.write(ByteBuffer(string: "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"))
                try await writer.write(ByteBuffer(string: "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
                try await writer.finish(nil)
            })
        }
        try await upstream.run { base in
            var harness = try AdapterHarness(base: base, kind: "anthropic")
            harness.provider.apiKey = "k"
            let started = ContinuousClock.now
            let texts = try await harness.run { adapter in
                let reply = try await adapter.streamChat(AdapterHarness.request, call: AdapterHarness.call())
                let stream = try await reply.value.prefetchingFirstChunk()
                #expect(started.duration(to: .now) < .milliseconds(1200), "held past the read-ahead")
                var texts: [String] = []
                for try await chunk in stream { texts.append(contentsOf: chunk.value.choices.compactMap(\.content)) }
                return texts
            }
            #expect(texts.joined() == "hi", "the marker never leaves the read-ahead")
        }
    }

    /// An answer led by a UTF-8 byte-order mark is read whole, relayed or decoded, streamed or not.
    @Test func anAnswerLedByAByteOrderMarkIsReadWhole() async throws {
        let chunk = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":"stop"}]}"#
        let upstream = ScriptedUpstream { received, _ in
            received.body.contains(#""stream":true"#)
                ? Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(byteBuffer: ByteBuffer(string: "\u{FEFF}data: \(chunk)\n\ndata: [DONE]\n\n")))
                : .scriptedJSON("\u{FEFF}" + AdapterHarness.completion)
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            var streaming = AdapterHarness.request.value
            streaming.stream = true
            let decoded = (AdapterHarness.request, Relayable(streaming))
            let relayed = (
                Relayable(AdapterHarness.request.value, wire: WireBytes(bytes: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#))),
                Relayable(streaming, wire: WireBytes(bytes: ByteBuffer(string: #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)))
            )
            for (request, streamed) in [decoded, relayed] {
                let reply = try await harness.run { adapter in try await adapter.chat(request, call: AdapterHarness.call()) }
                #expect(reply.value.value.id == "c")
                #expect(reply.value.wire != nil || request.wire == nil, "the relayed answer keeps its bytes")
                let texts = try await harness.run { adapter in
                    var texts: [String] = []
                    for try await chunk in try await adapter.streamChat(streamed, call: AdapterHarness.call()).value {
                        texts.append(contentsOf: chunk.value.choices.compactMap(\.content))
                    }
                    return texts
                }
                #expect(texts == ["Hel"])
            }
        }
    }

    /// Archway asks for no content encoding: a compressed answer is an unreadable one, said so, never a
    /// cut stream or a connection failure.
    @Test func aCompressedAnswerIsUnreadableAndSaysWhy() async throws {
        let upstream = ScriptedUpstream { received, _ in
            let gzip = ByteBuffer(bytes: [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03])
            let type = received.body.contains(#""stream":true"#) ? "text/event-stream" : "application/json"
            return Response(status: .ok, headers: [.contentType: type, .contentEncoding: "gzip"], body: .init(byteBuffer: gzip))
        }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let streamed = {
                var request = AdapterHarness.request
                request.rewrite { $0.stream = true }
                return request
            }()
            for stream in [false, true] {
                let error = await #expect(throws: GatewayError.self) {
                    try await harness.run { adapter in
                        if stream { _ = try await adapter.streamChat(streamed, call: AdapterHarness.call()) } else { _ = try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
                    }
                }
                #expect(error?.code == "upstream_invalid_response")
                #expect(error?.message.contains("compressed") == true)
            }
        }
    }

    /// What the transport's failures are to the client: a connection lost before any answer is a
    /// connection failure (retried); an answer that came but cannot be read is an unreadable answer.
    @Test func failuresBelowHTTPAreClassedByWhetherAnAnswerCame() {
        let unanswered = UpstreamTransport.map(UpstreamConnectionError.closedBeforeAnswer, provider: "p")
        #expect(unanswered.code == "upstream_unreachable" && unanswered.isRetryable)
        let cut = UpstreamTransport.map(UpstreamConnectionError.remoteConnectionClosed, provider: "p")
        #expect(cut.code == "stream_interrupted" && !cut.isRetryable && cut.allowsFallback)
        #expect(cut.message == "The answer from upstream provider 'p' ended before it was complete.")
        for unreadable in [UpstreamTransport.map(UpstreamConnectionError.invalidResponse, provider: "p"), UpstreamTransport.map(NIOTooManyBytesError(maxBytes: 64 << 20), provider: "p")] {
            #expect(unreadable.code == "upstream_invalid_response" && !unreadable.isRetryable && unreadable.allowsFallback)
        }
        #expect(UpstreamTransport.map(NIOTooManyBytesError(maxBytes: 64 << 20), provider: "p").message.hasSuffix("an answer over 64 MB"))
    }

    /// A connection the upstream resets after reading the request, before answering, is retried.
    @Test func aConnectionClosedBeforeTheAnswerIsRetried() async throws {
        let upstream = RawUpstream { index in index == 0 ? .closeWithoutAnswer : .json(AdapterHarness.completion) }
        try await upstream.run { (origin: UpstreamOrigin) async throws in
            let harness = try AdapterHarness(base: "http://127.0.0.1:\(origin.port)/v1", maxRetries: 1)
            let call = AdapterHarness.call()
            let reply = try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: call) }
            #expect(reply.value.value.id == "c")
            #expect(call.attempts.value == 2)
        }
    }

    @Test func aStreamRequestAnsweredWithoutAStreamFailsBeforeAnyByte() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in _ = try await adapter.streamChat(AdapterHarness.request, call: AdapterHarness.call()) }
            }
            #expect(error?.code == "upstream_invalid_response")
            #expect(error?.message.contains("application/json") == true)
            #expect(error?.allowsFallback == true)
        }
    }

    /// `conversation_id` is the gateway's own field: neither the relayed bytes nor the encoded request carry it.
    @Test func theGatewaysConversationIDIsNotForwarded() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            let body = ByteBuffer(string: #"{"model":"m","conversation_id":"conv-1","user":"u","messages":[{"role":"user","content":"hi"}]}"#)
            let request = Relayable(try OpenAIChatRequest.decode(from: body), wire: WireBytes(bytes: body))
            #expect(request.value.extra["conversation_id"]?.stringValue == "conv-1", "read for the span")
            _ = try await harness.run { adapter in try await adapter.chat(request, call: AdapterHarness.call()) }
            let sent = try #require(upstream.received.last?.body)
            #expect(!sent.contains("conversation_id") && !sent.contains("conv-1"))
            #expect(sent.contains(#""user":"u""#), "other unknown fields still pass")
        }
    }

    @Test func anAnthropicProviderRefusesSeveralChoicesAndSendsNothing() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON("{}") }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base, kind: "anthropic")
            var several = AdapterHarness.request.value
            several.choiceCount = 2
            let request = Relayable(several)
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { adapter in _ = try await adapter.chat(request, call: AdapterHarness.call()) }
            }
            #expect(error?.status == .badRequest && error?.param == "n")
            #expect(upstream.received.isEmpty)
        }
    }

    @Test func bytesTheScannerCannotRewriteAreSentEncodedInstead() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let harness = try AdapterHarness(base: base + "/v1")
            // A byte-order mark before the JSON: a decoder accepts it, the byte scanner does not.
            var bytes = ByteBuffer(bytes: [0xEF, 0xBB, 0xBF])
            bytes.writeString(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
            let request = Relayable(AdapterHarness.request.value, wire: WireBytes(bytes: bytes))
            let reply = try await harness.run { adapter in try await adapter.chat(request, call: AdapterHarness.call()) }
            #expect(reply.value.id == "c")
            let sent = try #require(upstream.received.first?.body)
            #expect(sent.hasPrefix("{"))
            #expect(sent.contains(#""model":"m-upstream""#))
        }
    }

    @Test func headersThatCannotBeSentFailTheCallAndSendNothing() async throws {
        // The configuration refuses such a key; an adapter built another way must not send it either,
        // now that the upstream pipeline no longer checks each request's headers.
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(AdapterHarness.completion) }
        try await upstream.run { base in
            let changes: [@Sendable (inout ProviderConfiguration) -> Void] = [
                { $0.apiKey = "sk-live-abcdef123456\r\nx-injected: yes" },
                { $0.headers = [("x-team", "a\nb")] },
                // One the transport sets itself: a second one would go out beside it.
                { $0.headers = [("Host", "elsewhere.example")] },
            ]
            for change in changes {
                var harness = try AdapterHarness(base: base + "/v1")
                change(&harness.provider)
                let error = await #expect(throws: GatewayError.self) {
                    try await harness.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
                }
                #expect(error?.status == .badGateway)
                #expect(error?.message.contains("sk-live") == false)
            }
            #expect(upstream.received.isEmpty)
        }
    }

    @Test func theUpstreamGetsTheUpstreamModelAndTheAuthHeaderOfItsKind() async throws {
        let upstream = ScriptedUpstream { received, _ in
            received.path.hasSuffix("/messages")
                ? .scriptedJSON(#"{"id":"msg_1","type":"message","role":"assistant","model":"m-upstream","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#)
                : .scriptedJSON(AdapterHarness.completion)
        }
        try await upstream.run { base in
            // The root form of an Anthropic base URL (as ANTHROPIC_BASE_URL has it) means /v1.
            let anthropic = try AdapterHarness(base: base, kind: "anthropic")
            _ = try await anthropic.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            let sent = try #require(upstream.received.last)
            #expect(sent.path == "/v1/messages")
            #expect(sent.headers[HTTPField.Name("x-api-key")!] == "sk-live-abcdef123456")
            #expect(sent.body.contains(#""model":"m-upstream""#))

            let openAI = try AdapterHarness(base: base, kind: "openai")
            _ = try await openAI.run { adapter in try await adapter.chat(AdapterHarness.request, call: AdapterHarness.call()) }
            #expect(upstream.received.last?.path == "/v1/chat/completions")
            #expect(upstream.received.last?.headers[.authorization] == "Bearer sk-live-abcdef123456")
        }
    }
}

@Suite struct CredentialScrubberTests {
    @Test func keysAndKeyShapedTextAreMasked() {
        let text = "Incorrect API key provided: sk-proj-abc123*****xyz. Also sk_live_999 and my-key-1234567."
        let scrubbed = CredentialScrubber.scrub(text, secrets: ["my-key-1234567"])
        #expect(!scrubbed.contains("sk-proj"))
        #expect(!scrubbed.contains("sk_live"))
        #expect(!scrubbed.contains("my-key-1234567"))
        #expect(scrubbed.contains("Incorrect API key provided: [redacted]"))
    }

    @Test func ordinaryTextIsLeftAlone() {
        #expect(CredentialScrubber.scrub("The model is overloaded; ask again.", secrets: ["abc"]) == "The model is overloaded; ask again.")
    }

    /// Azure's `api-key` header, a custom `Authorization` (and its token alone) are credentials too.
    @Test func credentialHeadersAreSecrets() {
        let provider = ProviderConfiguration(
            name: "azure", kind: .openai, baseURL: "https://x.openai.azure.com/openai", apiKey: "xai-SECRETKEY0123456789",
            headers: [(name: "api-key", value: "0123456789abcdef0123456789abcdef"), (name: "x-auth", value: "Token tok-9876543210"), (name: "x-region", value: "eu")]
        )
        #expect(provider.secrets == ["xai-SECRETKEY0123456789", "0123456789abcdef0123456789abcdef", "Token tok-9876543210", "tok-9876543210"])
        let echoed = "invalid subscription key 0123456789abcdef0123456789abcdef; key xai-SECRETKEY0123456789 over quota; tok-9876543210; region eu"
        #expect(CredentialScrubber.scrub(echoed, secrets: provider.secrets) == "invalid subscription key [redacted]; key [redacted] over quota; [redacted]; region eu")
    }
}
