import ArchwayCore
import ArchwayExecution
import ArchwayTestSupport
import Hummingbird
import NIOCore
import Testing
import Tracing

@Suite struct ModelCallExecutorTests {
    // MARK: - Fallback

    @Test func aModelThatFailsForItselfFallsBackToTheNext() async throws {
        let failing = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"overloaded"}}"#, status: .serviceUnavailable) }
        let healthy = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await failing.run { first in
            try await healthy.run { second in
                let harness = try ExecutionHarness(primary: first, secondary: second)
                let answer = try await harness.run(fallback: true) { executor in
                    try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a"))
                }
                // The answer names the configured model that gave it.
                #expect(answer.model == "b")
                #expect(answer.choices.first?.message.content == [.text("Hi there")])
                let outcomes = harness.recorder.all
                #expect(outcomes.map(\.target.upstreamModel) == ["a-upstream", "b-upstream"])
                #expect(outcomes.map { $0.error?.shortDescription } == ["503", nil])
                // Each model tried is its own GenAI span; the abandoned one is an error.
                #expect(harness.genAISpans.map(\.operationName) == ["chat a-upstream", "chat b-upstream"])
                #expect(harness.genAISpans.first?.status?.code == .error)
            }
        }
    }

    /// Until its first chunk nothing of a stream reached the client: a stream that breaks there (an error
    /// event right after the 200, as Anthropic reports overload, or a body that ends) moves on as a
    /// refused call does, and a lone model's failure is an error status, not a broken 200 stream.
    @Test(arguments: [(true, false), (false, false), (true, true), (false, true)])
    func aStreamThatBreaksBeforeItsFirstChunkFallsBack(errorEvent: Bool, afterRole: Bool) async throws {
        // A role-only chunk (how OpenAI streams begin) says nothing of the answer yet.
        let role = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"a-upstream","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
        let failing = ScriptedUpstream { _, _ in
            .scriptedEvents((afterRole ? [role] : []) + (errorEvent ? [#"{"error":{"message":"overloaded","type":"server_error"}}"#] : []), done: false)
        }
        let healthy = ScriptedUpstream { _, _ in .scriptedEvents(Canned.events) }
        try await failing.run { first in
            try await healthy.run { second in
                let harness = try ExecutionHarness(primary: first, secondary: second)
                let text = try await harness.run(fallback: true) { executor in
                    let stream = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                    var text = ""
                    for try await chunk in stream { text += chunk.choices.first?.content ?? "" }
                    return text
                }
                #expect(text == "Hello")
                let outcomes = harness.recorder.all
                #expect(outcomes.map(\.target.model) == ["a", "b"])
                #expect(outcomes.first?.error != nil && outcomes.last?.error == nil)
                #expect(harness.httpSpans.count == 2)
                #expect(harness.tracer.activeSpans.isEmpty)

                let alone = try ExecutionHarness(primary: first)
                let error = await #expect(throws: GatewayError.self) {
                    try await alone.run { executor in
                        _ = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                    }
                }
                #expect(error?.status.code ?? 0 >= 500)
                #expect(alone.tracer.activeSpans.isEmpty)
            }
        }
    }

    @Test func aClientsOwnMistakeNeverFallsBack() async throws {
        let refusing = ScriptedUpstream { _, _ in .scriptedJSON(#"{"error":{"message":"bad max_tokens"}}"#, status: .badRequest) }
        let healthy = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await refusing.run { first in
            try await healthy.run { second in
                let harness = try ExecutionHarness(primary: first, secondary: second)
                let error = await #expect(throws: GatewayError.self) {
                    try await harness.run(fallback: true) { executor in
                        try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a"))
                    }
                }
                #expect(error?.status == .badRequest)
                #expect(healthy.received.isEmpty)
                #expect(harness.recorder.all.count == 1)
            }
        }
    }

    @Test func aCallerThatLeavesIsNeitherRetriedNorSentToAnotherModel() async throws {
        let slow = ScriptedUpstream { _, _ in
            try await Task.sleep(for: .seconds(1))
            return .scriptedJSON(Canned.completion)
        }
        let healthy = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await slow.run { first in
            try await healthy.run { second in
                let harness = try ExecutionHarness(primary: first, secondary: second)
                try await harness.run(fallback: true) { executor in
                    let call = Task { try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a")) }
                    try await Task.sleep(for: .milliseconds(200))
                    call.cancel()
                    await #expect(throws: CancellationError.self) { try await call.value }
                }
                #expect(healthy.received.isEmpty)
                let outcome = try #require(harness.recorder.all.only)
                #expect(outcome.error?.isClientClosed == true)
                #expect(outcome.httpAttempts == 1)
            }
        }
    }

    @Test(arguments: [
        (GatewayError.upstreamStatus(500, provider: "p", excerpt: nil), true, true),
        (GatewayError.upstreamStatus(429, provider: "p", excerpt: nil), true, true),
        (GatewayError.upstreamTimeout(provider: "p", phase: "x"), true, true),
        (GatewayError.upstreamUnreachable(provider: "p", reason: "x"), true, true),
        (GatewayError.upstreamInvalidResponse(provider: "p", reason: "x"), false, true),
        (GatewayError.streamInterrupted(provider: "p"), false, true),
        (GatewayError.upstreamNotFound(provider: "p", path: "/v1/x", model: "m"), false, true),
        (GatewayError.upstreamStatus(400, provider: "p", excerpt: nil), false, false),
        (GatewayError.upstreamStatus(401, provider: "p", excerpt: nil), false, false),
        (GatewayError.invalidRequest("x"), false, false),
        (GatewayError.clientClosed, false, false),
        // Labels do not decide: a made-up error with a retryable-looking label is neither.
        (GatewayError(status: .serviceUnavailable, type: "upstream_error", message: "m", shortDescription: "503"), false, false),
    ])
    func whatMovesOn(error: GatewayError, retryable: Bool, fallback: Bool) {
        #expect(error.isRetryable == retryable)
        #expect(error.allowsFallback == fallback)
    }

    // MARK: - Deadlines

    @Test func aDeadlineThatHasPassedCallsNoModel() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { executor in
                    try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a", deadline: harness.clock.now - .milliseconds(1)))
                }
            }
            #expect(error?.code == "deadline_exceeded")
            #expect(upstream.received.isEmpty)
        }
    }

    @Test func theCallersDeadlineBoundsTheUpstreamCall() async throws {
        let slow = ScriptedUpstream { _, _ in
            try await Task.sleep(for: .seconds(2))
            return .scriptedJSON(Canned.completion)
        }
        try await slow.run { base in
            let harness = try ExecutionHarness(primary: base)
            let started = ContinuousClock.now
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run { executor in
                    try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a", deadline: harness.clock.now + .milliseconds(200)))
                }
            }
            #expect(error?.shortDescription == "timeout")
            #expect(started.duration(to: .now) < .milliseconds(1500))
        }
    }

    // MARK: - The byte relay

    @Test func theClientsBytesTravelOnlyWhileNothingReadsContent() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let body = #"{"model":"a","messages":[{"role":"user","content":"hi"}],"unmodelled_field":{"k":1}}"#
            let relayed = try ExecutionHarness(primary: base)
            let answer = try await relayed.run { executor in
                #expect(executor.relaysClientBytes(ofCallsTo: "a"))
                return try await executor.chat(executor.envelope(Canned.request(), openAIBytes: ByteBuffer(string: body)), scope: CallScope(model: "a"))
            }
            #expect(answer.wire != nil)
            #expect(upstream.received.last?.body.contains("unmodelled_field") == true)

            // Content capture needs the answer decoded: no bytes either way.
            let captured = try ExecutionHarness(primary: base, captureContent: true)
            let decoded = try await captured.run { executor in
                #expect(!executor.relaysClientBytes(ofCallsTo: "a"))
                return try await executor.chat(executor.envelope(Canned.request(), openAIBytes: ByteBuffer(string: body)), scope: CallScope(model: "a"))
            }
            #expect(decoded.wire == nil)
            #expect(upstream.received.last?.body.contains("unmodelled_field") == false)
        }
    }
}
