@testable import ArchwayTelemetry
import InMemoryTracing
import Testing
import Tracing

/// The writer's dictionary path: spans that do not encode attributes as they are set (`InMemorySpan` here,
/// any tracer's span but Archway's own) get the same attributes the typed setters promise.
@Suite struct SpanAttributeWriterTests {
    @Test func typedSettersWriteIntoTheSpansDictionary() throws {
        let tracer = InMemoryTracer()
        let span = tracer.startSpan("chat gpt-4o", context: .topLevel, ofKind: .client)
        span.attributes["kept.until.replaced"] = "x"
        span.setInitialAttributes(capacity: 4) { attributes in
            attributes.set("gen_ai.request.model", "gpt-4o")
            attributes.set("gen_ai.request.max_tokens", 100)
            attributes.set("gen_ai.request.temperature", 0.2)
            attributes.set("gen_ai.request.stream", true)
            attributes.set("gen_ai.request.stop_sequences", ["\n"])
            attributes.set("gen_ai.request.seed", nil as Int?)
        }
        span.modifyAttributes { attributes in
            attributes.set("gen_ai.response.model", "gpt-4o-2024")
            attributes.set("gen_ai.request.max_tokens", 200)
        }
        span.end()
        let finished = try #require(tracer.finishedSpans.first)
        var all: [String: SpanAttribute] = [:]
        finished.attributes.forEach { key, value in all[key] = value }
        #expect(all == [
            "gen_ai.request.model": .string("gpt-4o"),
            "gen_ai.request.max_tokens": .int64(200),
            "gen_ai.request.temperature": .double(0.2),
            "gen_ai.request.stream": .bool(true),
            "gen_ai.request.stop_sequences": .stringArray(["\n"]),
            "gen_ai.response.model": .string("gpt-4o-2024"),
        ])
    }

    @Test func aSpanThatRecordsNothingDoesNotRunTheWriter() {
        let span = NoOpTracer().startSpan("chat gpt-4o", context: .topLevel, ofKind: .client)
        var ran = false
        span.setInitialAttributes(capacity: 1) { _ in ran = true }
        span.modifyAttributes { _ in ran = true }
        #expect(!ran)
    }
}
