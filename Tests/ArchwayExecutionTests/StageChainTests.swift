import ArchwayCore
import ArchwayExecution
import ArchwayTestSupport
import Hummingbird
import NIOCore
import Testing

/// Replaces every user text, as a redaction stage would.
struct RewritingStage: CallStage {
    let name = "rewrite"

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision {
        var request = request
        request.messages = request.messages.map { ChatMessage(role: $0.role, content: [.text("[redacted]")]) }
        return .rewrite(request)
    }

    func afterCall(_ response: ChatResponse, request: ChatRequest, scope: CallScope) async throws -> AfterCallDecision {
        var response = response
        response.choices[0].message.content = [.text("restored")]
        return .rewrite(response)
    }
}

/// Rewrites every call but those to one model, as a policy with `policy: none` on a model does.
struct ExemptingStage: CallStage {
    let name = "exempting"
    let exempt: String

    func readsContent(ofCallsTo model: String) -> Bool { model != exempt }

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision {
        scope.model == exempt ? .proceed : try await RewritingStage().beforeCall(request, scope: scope)
    }
}

/// Answers without a model, as a cache hit would.
struct AnsweringStage: CallStage {
    let name = "answer"
    func readsContent(ofCallsTo model: String) -> Bool { false }

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision {
        .respond(ChatResponse(id: "cached", model: "x", created: 0, choices: [
            .init(index: 0, message: ChatMessage(role: .assistant, content: [.text("from the stage")]), finishReason: .stop),
        ], usage: Usage(inputTokens: 1, outputTokens: 3)))
    }
}

/// Refuses every call, as a failed policy check does.
struct FailingStage: CallStage {
    struct Refused: Error {}
    let name = "fail"
    func readsContent(ofCallsTo model: String) -> Bool { false }

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision { throw Refused() }
}

@Suite struct StageChainTests {
    @Test func aRewriteReachesTheUpstreamInsteadOfTheClientsBytes() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let body = #"{"model":"a","messages":[{"role":"user","content":"my secret"}]}"#
            let answer = try await harness.run(stages: [RewritingStage()]) { executor in
                // A stage that reads content turns the byte relay off for the calls it reads.
                #expect(!executor.relaysClientBytes(ofCallsTo: "a"))
                return try await executor.chat(executor.envelope(Canned.request(text: "my secret"), openAIBytes: ByteBuffer(string: body)), scope: CallScope(model: "a"))
            }
            let sent = try #require(upstream.received.only).body
            #expect(sent.contains("[redacted]"))
            #expect(!sent.contains("my secret"))
            #expect(answer.wire == nil)
            #expect(answer.choices.first?.message.content == [.text("restored")])
        }
    }

    /// A model the stage leaves alone (`policy: none`) keeps the relay while the stage reads the others.
    @Test func aModelTheStageLeavesAloneKeepsItsBytes() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let body = #"{"model":"a","messages":[{"role":"user","content":"hi"}],"unmodelled_field":{"k":1}}"#
            let answer = try await harness.run(stages: [ExemptingStage(exempt: "a")]) { executor in
                #expect(executor.relaysClientBytes(ofCallsTo: "a"))
                #expect(!executor.relaysClientBytes(ofCallsTo: "b"))
                return try await executor.chat(executor.envelope(Canned.request(), openAIBytes: ByteBuffer(string: body)), scope: CallScope(model: "a"))
            }
            #expect(answer.wire != nil)
            #expect(upstream.received.only?.body.contains("unmodelled_field") == true)
        }
    }

    @Test func aRewriteDropsTheBytesEvenWhenHandedThemDirectly() {
        var envelope = Relayable(Canned.request(), wire: WireBytes(bytes: ByteBuffer(string: "{}")))
        envelope.rewrite { $0.messages = [] }
        #expect(envelope.wire == nil)
        #expect(envelope.messages.isEmpty)
    }

    @Test func aStageThatAnswersCallsNoModel() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let (answer, chunks) = try await harness.run(stages: [AnsweringStage()]) { executor in
                let answer = try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a"))
                var chunks: [ChatChunk] = []
                for try await chunk in try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a")) {
                    chunks.append(chunk.value)
                }
                return (answer, chunks)
            }
            #expect(upstream.received.isEmpty)
            #expect(harness.recorder.all.isEmpty)
            #expect(answer.model == "a")
            #expect(answer.choices.first?.message.content == [.text("from the stage")])
            #expect(chunks.compactMap { $0.choices.first?.content }.joined() == "from the stage")
            #expect(chunks.flatMap { $0.choices.compactMap(\.finishReason) } == [.stop])
            #expect(chunks.last?.usage?.outputTokens == 3)
        }
    }

    @Test func aFailingStageFailsClosed() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedJSON(Canned.completion) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let error = await #expect(throws: GatewayError.self) {
                try await harness.run(stages: [FailingStage()]) { executor in
                    try await executor.chat(Relayable(Canned.request()), scope: CallScope(model: "a"))
                }
            }
            #expect(error?.status == .serviceUnavailable)
            #expect(error?.code == "stage_failed")
            #expect(upstream.received.isEmpty)
        }
    }
}
