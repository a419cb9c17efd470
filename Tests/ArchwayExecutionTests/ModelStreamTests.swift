import ArchwayCore
import ArchwayExecution
import ArchwayTestSupport
import Hummingbird
import NIOCore
import Testing
import Tracing

/// A model stream owns its call's lifetime: the GenAI and HTTP spans end exactly once, with the right
/// outcome, however the stream ends.
@Suite struct ModelStreamTests {
    @Test func readToTheEndRecordsTheWholeCall() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(Canned.events) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            try await harness.run { executor in
                let stream = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                var text = ""
                var iterator = stream.makeAsyncIterator()
                harness.clock.advance(by: .milliseconds(40))
                while let chunk = try await iterator.next() {
                    #expect(chunk.model == "a")
                    text += chunk.choices.first?.content ?? ""
                    harness.clock.advance(by: .milliseconds(10))
                }
                #expect(text == "Hello")
            }
            let outcome = try #require(harness.recorder.all.only)
            #expect(outcome.error == nil)
            #expect(outcome.finishReasons == [.stop])
            #expect(outcome.usage?.outputTokens == 2)
            #expect(outcome.timeToFirstChunk == .milliseconds(40))
            #expect(outcome.duration == .milliseconds(70))
            #expect(outcome.httpAttempts == 1)
            #expect(abs((outcome.costUSD ?? 0) - 14.0 / 1_000_000) < 1e-12)
            #expect(harness.genAISpans.count == 1)
            #expect(harness.httpSpans.count == 1)
            #expect(harness.tracer.activeSpans.isEmpty)
        }
    }

    /// The conventions record time per output chunk "for each chunk received after the first one": a
    /// stall between two chunks shows as itself, not inside a per-stream average.
    @Test func eachGapBetweenChunksIsRecorded() async throws {
        let events = (0..<4).map { #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"a-upstream-2025","choices":[{"index":0,"delta":{"content":"w\#($0) "},"finish_reason":null}]}"# }
            + [#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"a-upstream-2025","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#]
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(events) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            try await harness.run { executor in
                let stream = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                var iterator = stream.makeAsyncIterator()
                // The chunks are observed 20 ms, 2 s and 30 ms apart; the content-free last one counts not.
                for gap in [Duration.milliseconds(20), .seconds(2), .milliseconds(30), .milliseconds(500)] {
                    _ = try await iterator.next()
                    harness.clock.advance(by: gap)
                }
                while try await iterator.next() != nil {}
            }
            let gaps = harness.metrics.recorders(label: "gen_ai.client.operation.time_per_output_chunk")
            #expect(gaps.count == 1)
            #expect((gaps.first?.values ?? []).map { ($0 * 1_000).rounded() } == [20, 2_000, 30])
            #expect(gaps.first?.dimensions.contains { $0 == ("gen_ai.response.model", "a-upstream-2025") } == true)
        }
    }

    @Test func anUpstreamThatBreaksEndsTheCallAsFailed() async throws {
        // No [DONE]: the body just ends.
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(Array(Canned.events.prefix(1)), done: false) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            let failure = try await harness.run { executor in
                let stream = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                do {
                    for try await _ in stream {}
                    return nil as GatewayError?
                } catch {
                    return error as? GatewayError
                }
            }
            #expect(failure?.code == "stream_interrupted")
            let outcome = try #require(harness.recorder.all.only)
            #expect(outcome.error?.code == "stream_interrupted")
            #expect(outcome.finishReasons == [.error])
            let span = try #require(harness.genAISpans.only)
            #expect(span.status?.code == .error)
            #expect(harness.httpSpans.count == 1)
            #expect(harness.tracer.activeSpans.isEmpty)
        }
    }

    @Test func aReaderThatStopsEndsTheCallAsClientClosed() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(Canned.events, pause: .milliseconds(20)) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            try await harness.run { executor in
                let stream = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                var iterator = stream.makeAsyncIterator()
                _ = try await iterator.next()
                stream.abandon()
                stream.abandon()
            }
            let outcome = try #require(harness.recorder.all.only)
            #expect(outcome.error?.isClientClosed == true)
            #expect(harness.genAISpans.count == 1)
            #expect(harness.httpSpans.count == 1)
            #expect(harness.tracer.activeSpans.isEmpty)
        }
    }

    @Test func aStreamReleasedUnreadStillEndsItsSpans() async throws {
        // The client hung up before its response body started: nobody ever iterates the stream.
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(Canned.events, pause: .milliseconds(20)) }
        try await upstream.run { base in
            let harness = try ExecutionHarness(primary: base)
            try await harness.run { executor in
                var stream: ModelStream? = try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a"))
                #expect(stream != nil)
                #expect(harness.recorder.all.isEmpty)
                stream = nil
            }
            let outcome = try #require(harness.recorder.all.only)
            #expect(outcome.error?.isClientClosed == true)
            #expect(harness.genAISpans.count == 1)
            #expect(harness.httpSpans.count == 1)
            #expect(harness.tracer.activeSpans.isEmpty)
        }
    }

    @Test func theFinishReasonsAreTheSameWithAndWithoutContentCapture() async throws {
        let upstream = ScriptedUpstream { _, _ in .scriptedEvents(Canned.events) }
        try await upstream.run { base in
            var reasons: [[FinishReason]] = []
            for capture in [false, true] {
                let harness = try ExecutionHarness(primary: base, captureContent: capture)
                try await harness.run { executor in
                    for try await _ in try await executor.stream(Relayable(Canned.request(stream: true)), scope: CallScope(model: "a")) {}
                }
                reasons.append(try #require(harness.recorder.all.only).finishReasons)
                if capture {
                    let span = try #require(harness.genAISpans.only)
                    #expect(span.attributes["gen_ai.output.messages"] != nil)
                }
            }
            #expect(reasons == [[.stop], [.stop]])
        }
    }
}

extension Array {
    /// The one element, or nil when there are none or several.
    var only: Element? { count == 1 ? first : nil }
}
