@testable import ArchwayOTLP
import ArchwayTelemetry
import Logging
import SwiftProtobuf
import Testing
import Tracing

/// Attributes written through `SpanAttributeWriter` are encoded as they are set (`OTLPEncodedAttributes`),
/// beside the span's dictionary: whatever the order of writes through either way in, the span must read
/// and export exactly what one dictionary given the same writes would hold, each key once.
@Suite struct OTLPEncodedAttributesTests {
    private func makeExporter() -> OTLPSpanExporter {
        OTLPSpanExporter(settings: OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces"), diagnostics: Logger(label: "test"), keepsEndedSpans: true)
    }

    private static func dictionary(_ attributes: SpanAttributes) -> [String: SpanAttribute] {
        var all: [String: SpanAttribute] = [:]
        attributes.forEach { key, value in all[key] = value }
        return all
    }

    /// The export's spans, checked against the ended spans built as messages; each span's keys once.
    private func exported(_ exporter: OTLPSpanExporter) throws -> (ended: [OTLPFinishedSpan], spans: [Opentelemetry_Proto_Trace_V1_Span]) {
        let ended = exporter.takeEndedSpans()
        let parsed = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: exporter.takeExportBody())
        var spans = parsed.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans)
        for index in spans.indices {
            #expect(Set(spans[index].attributes.map(\.key)).count == spans[index].attributes.count, "a key exported twice")
            spans[index].attributes.sort { $0.key < $1.key }
        }
        #expect(spans == ended.map(\.referenceProto))
        return (ended, spans)
    }

    @Test func writesInAnyOrderReadAndExportAsOneDictionary() throws {
        // Keys that share a prefix, a length or an ending, so the filter's walk and the cut run too.
        let keys = [
            "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
            "a", "ab", "error.type", "gen_ai.request.top_p", "gen_ai.request.top_k", "x.model", "y.model", "",
        ]
        var random = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let exporter = makeExporter()
            let tracer = OTLPTracer(exporter: exporter)
            let span = tracer.startSpan("round \(round)", context: .topLevel, ofKind: .client)
            var reference: [String: SpanAttribute] = [:]
            for _ in 0..<Int.random(in: 1...40, using: &random) {
                let key = keys.randomElement(using: &random)!
                let value: SpanAttribute = switch Int.random(in: 0..<8, using: &random) {
                case 0: .string(String(repeating: "v", count: Int.random(in: 0...200, using: &random)))
                case 1: .int64(Int64.random(in: .min ... .max, using: &random))
                case 2: .double(Double.random(in: -1e9...1e9, using: &random))
                case 3: .bool(Bool.random(using: &random))
                case 4: .stringArray(["stop", "length"].shuffled(using: &random))
                case 5: .stringArray([])
                case 6: .int32(Int32.random(in: .min ... .max, using: &random))
                default: .stringConvertible(round)
                }
                switch Int.random(in: 0..<10, using: &random) {
                case 0:
                    // Generic: the modify accessor.
                    span.attributes.set(key, value: value)
                    reference[key] = value
                case 1:
                    span.attributes[key] = nil
                    reference[key] = nil
                case 2:
                    span.setInitialAttributes(capacity: 4) { $0.set(key, value: value) }
                    reference = [key: value]
                case 3:
                    span.attributes = [key: "\(value)"]
                    reference = [key: .string("\(value)")]
                default:
                    span.modifyAttributes { $0.set(key, value: value) }
                    reference[key] = value
                }
                #expect(Self.dictionary(span.attributes) == reference)
            }
            span.end()
            let (ended, spans) = try exported(exporter)
            #expect(spans.count == 1)
            #expect(Self.dictionary(ended[0].attributes) == reference)
        }
    }

    @Test func manyKeysStayUniqueWhenTheFilterIsFull() throws {
        let exporter = makeExporter()
        let span = OTLPTracer(exporter: exporter).startSpan("many", context: .topLevel, ofKind: .internal)
        // 600 keys set every bit of a 512-bit filter: each new key then walks the fields.
        for pass in 0..<2 {
            span.modifyAttributes { attributes in
                for index in 0..<600 { attributes.set("key.\(index)", index * 10 + pass) }
            }
        }
        span.end()
        let (_, spans) = try exported(exporter)
        #expect(spans[0].attributes.count == 600)
        #expect(spans[0].attributes.allSatisfy { $0.value.intValue == Int64($0.key.dropFirst(4))! * 10 + 1 })
    }

    @Test func unsampledAndEndedSpansTakeNothing() throws {
        let exporter = makeExporter()
        let unsampled = OTLPTracer(sampler: .alwaysOff, exporter: exporter).startSpan("off", context: .topLevel, ofKind: .server)
        var ran = false
        unsampled.setInitialAttributes(capacity: 1) { attributes in
            ran = true
            attributes.set("gen_ai.request.model", "gpt-4o")
        }
        #expect(!ran && unsampled.attributes.get("gen_ai.request.model") == nil)
        unsampled.end()

        let span = OTLPTracer(exporter: exporter).startSpan("on", context: .topLevel, ofKind: .server)
        span.setInitialAttributes(capacity: 1) { $0.set("http.request.method", "POST") }
        span.end()
        span.modifyAttributes { $0.set("http.response.status_code", 200) }
        #expect(span.attributes.get("http.response.status_code") == nil)
        let (_, spans) = try exported(exporter)
        #expect(spans.map(\.name) == ["on"])
        #expect(spans[0].attributes.map(\.key) == ["http.request.method"])
    }
}
