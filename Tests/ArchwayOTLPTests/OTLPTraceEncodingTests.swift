@testable import ArchwayOTLP
import Logging
import NIOCore
import SwiftProtobuf
import Testing
import Tracing

@Suite struct OTLPTraceEncodingTests {
    private let encoding = OTLPTraceEncoding(resourceAttributes: ["service.name": "archway"])

    /// Ended spans, as the exporter queues them.
    private func spans(_ count: Int, named prefix: String) -> [OTLPFinishedSpan] {
        let exporter = OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces"), diagnostics: Logger(label: "test"))
        let tracer = OTLPTracer(exporter: exporter)
        for index in 0..<count {
            let span = tracer.startSpan("\(prefix) \(index)", context: .topLevel, ofKind: .client)
            span.updateAttributes { attributes in
                attributes["gen_ai.request.model"] = "\(prefix)-model-\(index)"
                attributes["gen_ai.usage.input_tokens"] = index
            }
            span.end()
        }
        return exporter.queuedSpans
    }

    private func decoded(_ body: ByteBuffer) throws -> [Opentelemetry_Proto_Trace_V1_Span] {
        let request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: Array(body.readableBytesView))
        return request.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).map { span in
            var span = span
            span.attributes.sort { $0.key < $1.key }
            return span
        }
    }

    @Test func reusedBuffersCarryOnlyTheirOwnBatchAndABurstsAreLetGo() throws {
        let large = spans(2_000, named: "large")  // over the 64 KiB that is always kept
        let small = spans(2, named: "small")
        var buffers = OTLPExportBuffers()

        #expect(try decoded(encoding.encode(large[...], into: &buffers)) == large.map(\.referenceProto))
        let largeSize = buffers.body.readableBytes
        buffers.releaseOversized(used: buffers.body.readableBytes)
        #expect(largeSize > 64 * 1_024 && buffers.body.capacity >= largeSize, "steady traffic keeps its buffers")
        let kept = buffers.body.capacity

        // The same storage, emptied first: nothing of the large batch is left in the small one's request.
        #expect(try decoded(encoding.encode(small[...], into: &buffers)) == small.map(\.referenceProto))
        #expect(buffers.body.capacity == kept, "the body was written into the kept storage")
        buffers.releaseOversized(used: buffers.body.readableBytes)
        #expect(buffers.body.capacity < largeSize && buffers.spans.bytes.capacity < largeSize, "a burst's buffers go back")

        #expect(try decoded(encoding.encode(large[...], into: &buffers)) == large.map(\.referenceProto))
    }

    @Test func anIdleExportTickLetsGoOfTheLastLoadsBuffers() async throws {
        let exporter = OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces", timeout: .milliseconds(200), maxExportBatchSize: 8_192, maxQueueSize: 8_192), diagnostics: Logger(label: "test"))
        let tracer = OTLPTracer(exporter: exporter)
        for index in 0..<2_000 {
            let span = tracer.startSpan("call \(index)", context: .topLevel, ofKind: .client)
            span.attributes["gen_ai.request.model"] = "model-\(index)"
            span.end()
        }
        await exporter.exportQueued()  // port 9 refuses it; the buffers are kept all the same
        #expect(exporter.bufferCapacities.body > 64 * 1_024, "the batch was encoded into the kept buffers")
        await exporter.exportQueued()  // nothing queued
        #expect(exporter.bufferCapacities.body <= 64 * 1_024 && exporter.bufferCapacities.spans <= 64 * 1_024)
    }
}
