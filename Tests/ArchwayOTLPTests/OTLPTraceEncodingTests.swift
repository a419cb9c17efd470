@testable import ArchwayOTLP
import Logging
import NIOCore
import SwiftProtobuf
import Testing
import Tracing

@Suite struct OTLPTraceEncodingTests {
    private let encoding = OTLPTraceEncoding(resourceAttributes: ["service.name": "archway"])

    /// Ended spans, as the exporter queued them, and the exporter.
    private func spans(_ count: Int, named prefix: String) -> ([OTLPFinishedSpan], OTLPSpanExporter) {
        let exporter = OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces"), diagnostics: Logger(label: "test"), keepsEndedSpans: true)
        let tracer = OTLPTracer(exporter: exporter)
        for index in 0..<count {
            let span = tracer.startSpan("\(prefix) \(index)", context: .topLevel, ofKind: .client)
            span.updateAttributes { attributes in
                attributes["gen_ai.request.model"] = "\(prefix)-model-\(index)"
                attributes["gen_ai.usage.input_tokens"] = index
            }
            span.end()
        }
        return (exporter.takeEndedSpans(), exporter)
    }

    private func decoded(_ body: ByteBuffer) throws -> [Opentelemetry_Proto_Trace_V1_Span] {
        try decoded(Array(body.readableBytesView))
    }

    private func decoded(_ body: [UInt8]) throws -> [Opentelemetry_Proto_Trace_V1_Span] {
        let request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        return request.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).map { span in
            var span = span
            span.attributes.sort { $0.key < $1.key }
            return span
        }
    }

    @Test func spansEncodedAsTheyEndMakeTheSameRequestAsEncodedTogether() throws {
        let (ended, exporter) = spans(50, named: "call")
        let body = exporter.takeExportBody()
        #expect(try decoded(body) == ended.map(\.referenceProto))
        #expect(Array(encoding.encode(ended).readableBytesView) == body)
        #expect(exporter.queuedSpanCount == 0)
    }

    @Test func aDrainSplitsTheQueueIntoBatchesAtSpanBoundaries() async throws {
        let (ended, exporter) = spans(25, named: "call")
        _ = exporter.takeExportBody()
        let queue = OTLPSpanQueue(capacity: 100)
        var writer = ProtobufWriter()
        var nested = ProtobufWriter()
        for span in ended {
            writer.bytes.removeAll()
            writer.span(span, scratch: &nested)
            #expect(queue.append(field: 2, message: writer.bytes))
        }
        var batches: [[Opentelemetry_Proto_Trace_V1_Span]] = []
        var counts: [Int] = []
        await queue.drain(batchSize: 10) { spans, count in
            var body = ByteBuffer()
            batches.append((try? decoded(encoding.encode(spans, into: &body))) ?? [])
            counts.append(count)
        }
        #expect(counts == [10, 10, 5])
        #expect(batches.map(\.count) == [10, 10, 5])
        #expect(batches.flatMap { $0 } == ended.map(\.referenceProto))
        #expect(queue.count == 0)
    }

    @Test func reusedBodyCarriesOnlyItsOwnBatch() throws {
        let (large, _) = spans(2_000, named: "large")  // over the 64 KiB that is always kept
        let (small, _) = spans(2, named: "small")
        var body = ByteBuffer()
        let largeEntries = OTLPTraceEncoding.entries(large)
        #expect(try decoded(encoding.encode(largeEntries[...], into: &body)) == large.map(\.referenceProto))
        let kept = body.capacity
        #expect(kept > 64 * 1_024)
        // The same storage, emptied first: nothing of the large batch is left in the small one's request.
        #expect(try decoded(encoding.encode(OTLPTraceEncoding.entries(small)[...], into: &body)) == small.map(\.referenceProto))
        #expect(body.capacity == kept, "the body was written into the kept storage")
    }

    @Test func idleExportTicksLetGoOfTheLastLoadsBuffers() async throws {
        let exporter = OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces", timeout: .milliseconds(200), maxExportBatchSize: 8_192, maxQueueSize: 8_192), diagnostics: Logger(label: "test"))
        let tracer = OTLPTracer(exporter: exporter)
        for index in 0..<2_000 {
            let span = tracer.startSpan("call \(index)", context: .topLevel, ofKind: .client)
            span.attributes["gen_ai.request.model"] = "model-\(index)"
            span.end()
        }
        await exporter.exportQueued()  // port 9 refuses it; the buffers are kept all the same
        #expect(exporter.bufferCapacities.body > 64 * 1_024, "the batch was encoded into the kept buffers")
        #expect(exporter.bufferCapacities.spans > 64 * 1_024, "the queue keeps its storage for the next load")
        // Nothing queued: the body goes at the first idle tick, the queue's storage (swapped in as the
        // next buffer to fill) at the second.
        await exporter.exportQueued()
        #expect(exporter.bufferCapacities.body <= 64 * 1_024)
        await exporter.exportQueued()
        #expect(exporter.bufferCapacities.body <= 64 * 1_024 && exporter.bufferCapacities.spans <= 64 * 1_024)
    }
}
