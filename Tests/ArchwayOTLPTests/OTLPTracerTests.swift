@testable import ArchwayOTLP
import CompressNIO
import Foundation
import Logging
import NIOCore
import SwiftProtobuf
import Testing
import Tracing
import W3CTraceContext

@Suite struct OTLPTracerTests {
    private func makeExporter(_ configure: (inout OTLPExportSettings) -> Void = { _ in }) -> OTLPSpanExporter {
        var settings = OTLPExportSettings(endpoint: "http://127.0.0.1:9/v1/traces")
        configure(&settings)
        return OTLPSpanExporter(settings: settings, diagnostics: Logger(label: "test"), keepsEndedSpans: true)
    }

    /// The spans queued so far, as the export request carries them: encoded when they ended, then parsed
    /// with the generated messages, and checked against the same spans built as messages.
    private func exported(_ exporter: OTLPSpanExporter) throws -> [Opentelemetry_Proto_Trace_V1_Span] {
        let queued = exporter.takeEndedSpans()
        let parsed = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: exporter.takeExportBody())
        #expect(parsed.resourceSpans.count == 1)
        let resource = Dictionary(uniqueKeysWithValues: parsed.resourceSpans[0].resource.attributes.map { ($0.key, $0.value.stringValue) })
        #expect(resource["service.name"] == "archway" && resource["telemetry.sdk.language"] == "swift")
        #expect(parsed.resourceSpans[0].scopeSpans.map(\.scope.name) == ["archway"])
        var spans = parsed.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans)
        for index in spans.indices {
            spans[index].attributes.sort { $0.key < $1.key }
            for event in spans[index].events.indices { spans[index].events[event].attributes.sort { $0.key < $1.key } }
            for link in spans[index].links.indices { spans[index].links[link].attributes.sort { $0.key < $1.key } }
        }
        #expect(spans == queued.map(\.referenceProto))
        return spans
    }

    @Test func childrenShareTheTraceAndNameTheirParent() throws {
        let exporter = makeExporter()
        let tracer = OTLPTracer(exporter: exporter)
        let server = tracer.startSpan("POST /v1/chat/completions", context: .topLevel, ofKind: .server)
        let client = tracer.startSpan("chat gpt-4o", context: server.context, ofKind: .client)
        client.updateAttributes { $0["gen_ai.request.model"] = "gpt-4o"; $0["gen_ai.usage.input_tokens"] = 12 }
        client.attributes["gen_ai.response.finish_reasons"] = ["stop"]
        client.setStatus(SpanStatus(code: .error, message: "upstream 503"))
        client.end()
        server.end()
        server.end() // a second end changes nothing

        let spans = try exported(exporter)
        #expect(spans.map(\.name) == ["chat gpt-4o", "POST /v1/chat/completions"])
        let (child, parent) = (spans[0], spans[1])
        #expect(child.traceID == parent.traceID && child.traceID.count == 16)
        #expect(child.parentSpanID == parent.spanID && parent.parentSpanID.isEmpty)
        #expect(child.kind == .client && parent.kind == .server)
        #expect(child.status.code == .error && child.status.message == "upstream 503")
        let attributes = Dictionary(uniqueKeysWithValues: child.attributes.map { ($0.key, $0.value) })
        #expect(attributes["gen_ai.request.model"]?.stringValue == "gpt-4o")
        #expect(attributes["gen_ai.usage.input_tokens"]?.intValue == 12)
        #expect(attributes["gen_ai.response.finish_reasons"]?.arrayValue.values.map(\.stringValue) == ["stop"])
        #expect(child.endTimeUnixNano >= child.startTimeUnixNano && child.startTimeUnixNano > 0)
        #expect(child.flags == 0x101)  // sampled; the parent is known to be local
    }

    @Test func everyValueShapeEventsLinksAndStatusEncodeAsTheDefinitionsSay() throws {
        let exporter = makeExporter()
        let tracer = OTLPTracer(exporter: exporter)
        var remote = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=1,b=2"], into: &remote, using: DictionaryExtractor())
        let linked = tracer.startSpan("evaluated", context: .topLevel, ofKind: .client)
        let span = tracer.startSpan("shadow é ✓", context: remote, ofKind: .internal)
        span.addLink(SpanLink(context: linked.context, attributes: ["link.kind": "evaluates"]))
        span.updateAttributes { attributes in
            attributes["s"] = "text with \u{0} and ünïcödé"
            attributes["empty"] = ""
            attributes["i"] = -42
            attributes["big"] = Int64.max
            attributes["i32"] = SpanAttribute.int32(7)
            attributes["d"] = 0.125
            attributes["b"] = false
            attributes["sa"] = ["a", "", "ccc"]
            attributes["ia"] = [Int64(1), -1, 300]
            attributes["da"] = [1.5, -2.25]
            attributes["ba"] = [true, false]
            attributes["long"] = String(repeating: "x", count: 300)
            attributes[String(repeating: "k", count: 200)] = true  // a key whose length takes two bytes
            attributes["neg"] = -0.5
            // Around the size where a key and its value stop fitting in one `ProtobufHead` (96 bytes).
            for keyLength in stride(from: 60, through: 92, by: 4) {
                let key = String(repeating: "q", count: keyLength)
                attributes[key + "n"] = Int64(-keyLength)
                attributes[key + "d"] = Double(keyLength) / 3
                for valueLength in [0, 3, 9, 17, 33] {
                    attributes[key + "s\(valueLength)"] = String(repeating: "v", count: valueLength)
                }
            }
        }
        span.recordError(OTLPSpanExporter.TestFailure(), attributes: ["attempt": 2])
        span.setStatus(SpanStatus(code: .ok))
        span.setStatus(SpanStatus(code: .error, message: "ignored after OK"))
        span.end()
        linked.setStatus(SpanStatus(code: .error))
        linked.end()
        let spans = try exported(exporter) // compares every field with the reference messages
        #expect(spans[0].links.count == 1 && spans[0].events.map(\.name) == ["exception"])
        #expect(spans[0].status.code == .ok && spans[0].traceState == "a=1, b=2")
        #expect(spans[0].flags == 0x301)  // sampled, parent known, parent remote
        #expect(spans[1].status.code == .error && spans[1].status.message.isEmpty)
    }

    @Test func traceparentIsReadAndWritten() throws {
        let tracer = OTLPTracer(exporter: makeExporter())
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=abc"], into: &context, using: DictionaryExtractor())
        let span = tracer.startSpan("work", context: context, ofKind: .server)
        var headers: [String: String] = [:]
        tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        let parts = try #require(headers["traceparent"]).split(separator: "-")
        #expect(parts[0] == "00" && parts[1] == "0af7651916cd43dd8448eb211c80319c" && parts[3] == "01")
        #expect(parts[2] != "b7ad6b7169203331" && parts[2].count == 16)
        #expect(headers["tracestate"] == "vendor=abc")

        // A malformed header starts a new trace.
        var fresh = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-zz-b7ad6b7169203331-01"], into: &fresh, using: DictionaryExtractor())
        #expect(fresh.otlpSpanContext == nil)
    }

    @Test(arguments: [
        ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "01"),
        ("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-what-comes-later", "01"),
        ("02-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "00"),
    ])
    func aLaterVersionIsReadByItsVersionZeroFields(_ header: String, flags: String) throws {
        let tracer = OTLPTracer(exporter: nil)
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": header], into: &context, using: DictionaryExtractor())
        let parent = try #require(context.otlpSpanContext)
        #expect(parent.traceParentHeaderValue == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-" + flags)
    }

    @Test(arguments: [
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "0G-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ])
    func aMalformedOrInvalidVersionStartsANewTrace(_ header: String) {
        var context = ServiceContext.topLevel
        OTLPTracer(exporter: nil).extract(["traceparent": header], into: &context, using: DictionaryExtractor())
        #expect(context.otlpSpanContext == nil)
    }

    @Test func withTheSDKDisabledTheCallersContextPassesThroughUnchanged() {
        let tracer = PassThroughTracer()
        var context = ServiceContext.topLevel
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        tracer.extract(["traceparent": header, "tracestate": "vendor=abc"], into: &context, using: DictionaryExtractor())
        let server = tracer.startSpan("POST /v1/chat/completions", context: context, ofKind: .server)
        let client = tracer.startSpan("POST", context: server.context, ofKind: .client)
        #expect(!server.isRecording && !client.isRecording)
        var headers: [String: String] = [:]
        tracer.inject(client.context, into: &headers, using: DictionaryInjector())
        #expect(headers == ["traceparent": header, "tracestate": "vendor=abc"])
        // No caller context: nothing is written. OTEL_PROPAGATORS=none: nothing is read.
        var none: [String: String] = [:]
        tracer.inject(ServiceContext.topLevel, into: &none, using: DictionaryInjector())
        #expect(none.isEmpty)
        var ignored = ServiceContext.topLevel
        PassThroughTracer(environment: ["OTEL_PROPAGATORS": "none"]).extract(["traceparent": header], into: &ignored, using: DictionaryExtractor())
        #expect(ignored.otlpSpanContext == nil)
    }

    @Test func traceparentIsWrittenAsTheW3CPackageWritesIt() {
        var generator = SystemRandomNumberGenerator()
        for flags in [TraceFlags(rawValue: 0), .sampled, TraceFlags(rawValue: 0xA5), TraceFlags(rawValue: 0xFF)] {
            for _ in 0..<50 {
                let span = OTLPSpanContext(traceID: .random(using: &generator), spanID: .random(using: &generator), flags: flags)
                let reference = TraceContext(traceID: span.traceID, spanID: span.spanID, flags: span.flags, state: span.state)
                #expect(span.traceParentHeaderValue == reference.traceParentHeaderValue)
            }
        }
        let fixed = OTLPSpanContext(
            traceID: TraceID(bytes: (0x0A, 0xF7, 0x65, 0x19, 0x16, 0xCD, 0x43, 0xDD, 0x84, 0x48, 0xEB, 0x21, 0x1C, 0x80, 0x31, 0x9C)),
            spanID: SpanID(bytes: (0xB7, 0xAD, 0x6B, 0x71, 0x69, 0x20, 0x33, 0x31)),
            flags: .sampled
        )
        #expect(fixed.traceParentHeaderValue == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    }

    @Test func samplingFollowsTheParentAndTheRatio() {
        let exporter = makeExporter()
        let off = OTLPTracer(sampler: .parentBased(root: .alwaysOff), exporter: exporter)
        let unsampled = off.startSpan("root", context: .topLevel, ofKind: .server)
        #expect(!unsampled.isRecording)
        // An unsampled span still has a context, and its children follow its decision.
        #expect(unsampled.context.otlpSpanContext?.isSampled == false)
        var headers: [String: String] = [:]
        off.inject(unsampled.context, into: &headers, using: DictionaryInjector())
        #expect(headers["traceparent"]?.hasSuffix("-00") == true)
        var sampledParent = ServiceContext.topLevel
        off.extract(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"], into: &sampledParent, using: DictionaryExtractor())
        #expect(off.startSpan("child", context: sampledParent, ofKind: .server).isRecording)
        unsampled.attributes["gen_ai.request.model"] = "gpt-4o"
        #expect(unsampled.attributes.get("gen_ai.request.model") == nil)
        unsampled.end()
        #expect(exporter.queuedSpanCount == 0)

        let ratio = OTLPTracer(sampler: .traceIDRatio(0.25), exporter: exporter)
        let kept = (0..<4_000).filter { _ in ratio.startSpan("r", context: .topLevel, ofKind: .internal).isRecording }.count
        #expect((800...1_200).contains(kept))

        #expect(OTLPSampler(environment: ["OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"]) == .parentBased(root: .traceIDRatio(0.1)))
        #expect(OTLPSampler(environment: [:]) == .parentBased(root: .alwaysOn))
    }

    @Test func changesAfterTheEndAreNotExported() throws {
        let exporter = makeExporter()
        let tracer = OTLPTracer(exporter: exporter)
        let span = tracer.startSpan("chat gpt-4o", context: .topLevel, ofKind: .client)
        span.attributes["gen_ai.request.model"] = "gpt-4o"
        span.end()
        // In place (the modify accessor), replaced whole, and every other kind of change.
        span.attributes["gen_ai.response.id"] = "late"
        span.attributes = ["gen_ai.response.model": "late"]
        span.operationName = "renamed"
        span.setStatus(SpanStatus(code: .error, message: "late"))
        span.addEvent("late")
        #expect(!span.isRecording)
        #expect(span.attributes.get("gen_ai.response.id") == nil)

        let spans = try exported(exporter)
        #expect(spans.count == 1)
        #expect(spans[0].name == "chat gpt-4o")
        #expect(spans[0].attributes.map(\.key) == ["gen_ai.request.model"])
        #expect(spans[0].events.isEmpty && spans[0].status.code == .unset)
    }

    /// An attribute whose description ends another span while the first is being encoded.
    private struct EndsASpan: CustomStringConvertible, Sendable {
        let tracer: OTLPTracer
        var description: String {
            tracer.startSpan("inner", context: .topLevel, ofKind: .internal).end()
            return "described"
        }
    }

    @Test func aSpanEndedWhileAnotherIsEncodedKeepsItsOwnBuffers() throws {
        let exporter = makeExporter()
        let tracer = OTLPTracer(exporter: exporter)
        let outer = tracer.startSpan("outer", context: .topLevel, ofKind: .internal)
        outer.attributes["value"] = SpanAttribute.stringConvertible(EndsASpan(tracer: tracer))
        outer.attributes["model"] = "gpt-4o"
        outer.end()
        let spans = try exported(exporter)  // compares every field with the reference messages
        #expect(Set(spans.map(\.name)) == ["inner", "outer"])
        let outerSpan = try #require(spans.first { $0.name == "outer" })
        #expect(outerSpan.attributes.map(\.key) == ["model", "value"])
        #expect(outerSpan.attributes.last?.value.stringValue == "described")
    }

    @Test func aFullQueueDropsAndCounts() {
        let exporter = makeExporter { $0.maxQueueSize = 3 }
        let tracer = OTLPTracer(exporter: exporter)
        for index in 0..<5 { tracer.startSpan("s\(index)", context: .topLevel, ofKind: .internal).end() }
        #expect(exporter.queuedSpanCount == 3)
        #expect(exporter.droppedSpans == 2)
    }

    @Test func settingsForTracesFollowTheStandardVariables() throws {
        let defaults = OTLPExportSettings(maxExportBatchSize: 8_192, scheduleDelay: .milliseconds(250), maxQueueSize: 16_384)
        let settings = try #require(OTLPExportSettings(signal: .traces, environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        ], defaults: defaults))
        #expect(settings.endpoint == "http://collector:4318/v1/traces")
        #expect(settings.compression == .gzip)
        #expect(settings.scheduleDelay == .milliseconds(100))
        #expect(settings.maxQueueSize == 16_384)
        let signal = try #require(OTLPExportSettings(signal: .traces, environment: [
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://vendor.example/otlp/v1/traces",
        ], defaults: defaults))
        #expect(signal.compression == OTLPExportSettings.Compression.none)
        #expect(signal.endpoint == "https://vendor.example/otlp/v1/traces")
        #expect(OTLPExportSettings(signal: .traces, environment: ["OTEL_TRACES_EXPORTER": "none"], defaults: defaults) == nil)
        #expect(OTLPExportSettings(signal: .traces, environment: ["OTEL_TRACES_EXPORTER": "console"], defaults: defaults) == nil)
        #expect(OTLPExportSettings(signal: .traces, environment: ["OTEL_TRACES_EXPORTER": "otlp, console"], defaults: defaults) != nil)
        #expect(OTLPExportSettings.unsupportedExporter(.traces, environment: ["OTEL_TRACES_EXPORTER": "console"]) == "console")
        #expect(OTLPExportSettings.unsupportedExporter(.traces, environment: ["OTEL_TRACES_EXPORTER": "none"]) == nil)
        #expect(OTLPExportSettings.unsupportedProtocol(.traces, environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) == "grpc")
        #expect(OTLPExportSettings.unsupportedProtocol(.logs, environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf"]) == nil)
        #expect(OTLPExportSettings.unsupportedProtocol(.traces, environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "none"]) == nil)
        // Metrics go through swift-otel, which stops on `console` and traps on gRPC: neither reaches it.
        #expect(OTLPExportSettings.metricsExport(environment: [:]) == .otlp)
        #expect(OTLPExportSettings.metricsExport(environment: ["OTEL_METRICS_EXPORTER": "none"]) == .none)
        #expect(OTLPExportSettings.metricsExport(environment: ["OTEL_METRICS_EXPORTER": "otlp,console"]) == .otlp)
        for environment in [["OTEL_METRICS_EXPORTER": "console"], ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"], ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"]] {
            guard case .unsupported = OTLPExportSettings.metricsExport(environment: environment) else {
                Issue.record("\(environment) should not reach swift-otel")
                continue
            }
        }
        #expect(OTLPExportSettings.metricsExport(environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"]) == .otlp)
        #expect(OTLPExportSettings.unsupportedExporter(.logs, environment: ["OTEL_LOGS_EXPORTER": "otlp,console"]) == nil)
    }

    @Test func gzipBodiesRoundTrip() throws {
        let input = Array(String(repeating: "gen_ai.request.model=gpt-4o-mini;", count: 200).utf8)
        var plain = ByteBuffer(bytes: input)
        var compressed = try plain.compress(with: OTLPHTTPTransport.gzip)
        #expect(compressed.readableBytesView.prefix(2).elementsEqual([0x1F, 0x8B]))
        #expect(compressed.readableBytes < input.count / 5)
        #expect(try compressed.decompress(with: .gzip()).readableBytesView.elementsEqual(input))
    }
}

extension OTLPSpanExporter {
    struct TestFailure: Error {}
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
