import ArchwayCore
@testable import ArchwayOTLP
import Foundation
import Logging
import SwiftProtobuf
import Testing

@Suite struct OTLPLogExporterTests {
    /// For swift-otel's metrics exporter, which reads the variables without decoding them.
    @Test func aSignalsHeadersAreDecodedAndItsOwnVariableWins() {
        let environment = [
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme, authorization=Bearer%20abc,x-team=a%2Cb",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-tenant=metrics",
        ]
        #expect(OTLPExportSettings.headers(signalVariable: "METRICS", environment: environment)
            == ["x-tenant": "metrics", "authorization": "Bearer abc", "x-team": "a,b"])
        #expect(OTLPExportSettings.headers(signalVariable: "TRACES", environment: environment)["x-tenant"] == "acme")
    }

    @Test func endpointsAreLoggedWithoutTheirCredentials() {
        #expect(OTLPExportSettings.withoutUserInfo("http://user:s3cret@collector:4318/v1/traces") == "http://***@collector:4318/v1/traces")
        #expect(OTLPExportSettings.withoutUserInfo("https://collector:4318/v1/traces?a=b@c") == "https://collector:4318/v1/traces?a=b@c")
        #expect(OTLPExportSettings.withoutUserInfo("http://127.0.0.1:4318") == "http://127.0.0.1:4318")
    }

    @Test func settingsFollowTheStandardVariables() throws {
        let base = try #require(OTLPExportSettings(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme, authorization=Bearer%20abc",
            "OTEL_SERVICE_NAME": "gateway-eu",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=ignored",
            "OTEL_BLRP_SCHEDULE_DELAY": "250",
        ]))
        #expect(base.endpoint == "http://collector:4318/v1/logs")
        #expect(base.headers == ["x-tenant": "acme", "authorization": "Bearer abc"])
        #expect(base.resourceAttributes.filter { !OTLPResource.defaults.keys.contains($0.key) } == ["service.name": "gateway-eu", "deployment.environment": "prod"])
        // The SDK's attributes and the instance's are on every signal's resource; the configured ones win.
        #expect(base.resourceAttributes["telemetry.sdk.version"] == ArchwayVersion.current)
        #expect(base.resourceAttributes["service.instance.id"]?.count == 36)
        #expect(OTLPExportSettings.resourceAttributes(environment: ["OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-7"])["service.instance.id"] == "pod-7")
        #expect(base.attributeValueLengthLimit == nil)
        let limited = OTLPExportSettings(signal: .traces, environment: ["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "40"], defaults: OTLPExportSettings())
        #expect(limited?.attributeValueLengthLimit == 40)
        #expect(base.scheduleDelay == .milliseconds(250))

        let signal = try #require(OTLPExportSettings(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9000/custom",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "a=2",
        ]))
        #expect(signal.endpoint == "http://logs:9000/custom")
        #expect(signal.headers == ["a": "2"])
        #expect(signal.resourceAttributes["service.name"] == "archway")

        #expect(OTLPExportSettings(environment: [:])?.endpoint == "http://localhost:4318/v1/logs")
        #expect(OTLPExportSettings(environment: ["OTEL_SDK_DISABLED": "true"]) == nil)
        #expect(OTLPExportSettings(environment: ["OTEL_LOGS_EXPORTER": "none"]) == nil)
        #expect(OTLPExportSettings(environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) == nil)
    }

    @Test func anEventBecomesARecordWithItsNameAttributesAndSpan() throws {
        let exporter = OTLPLogExporter(settings: OTLPExportSettings(), diagnostics: Logger(label: "test"))
        let provider = Logger.MetadataProvider {
            ["trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "trace_flags": "01"]
        }
        let events = Logger(label: "events") { label in exporter.eventHandler(label: label, metadataProvider: provider) }
        events.info("gen_ai.evaluation.result", metadata: [
            "gen_ai.evaluation.name": "archway.consistency",
            "gen_ai.evaluation.score.value": .stringConvertible(0.75),
            "gen_ai.evaluation.score.label": "consistent",
            "archway.samples": .stringConvertible(3),
        ])
        let record = try #require(exporter.pending.first)
        #expect(record.eventName == "gen_ai.evaluation.result")
        #expect(record.severityNumber == .info && record.severityText == "INFO")
        #expect(record.traceID == Data([0x0A, 0xF7, 0x65, 0x19, 0x16, 0xCD, 0x43, 0xDD, 0x84, 0x48, 0xEB, 0x21, 0x1C, 0x80, 0x31, 0x9C]))
        #expect(record.spanID == Data([0xB7, 0xAD, 0x6B, 0x71, 0x69, 0x20, 0x33, 0x31]))
        #expect(record.flags == 1)
        let attributes = Dictionary(uniqueKeysWithValues: record.attributes.map { ($0.key, $0.value) })
        #expect(attributes.keys.sorted() == ["archway.samples", "gen_ai.evaluation.name", "gen_ai.evaluation.score.label", "gen_ai.evaluation.score.value"])
        #expect(attributes["gen_ai.evaluation.score.value"]?.doubleValue == 0.75)
        #expect(attributes["archway.samples"]?.intValue == 3)
        #expect(attributes["gen_ai.evaluation.name"]?.stringValue == "archway.consistency")
        #expect(record.timeUnixNano > 1_700_000_000_000_000_000)

        // The export request carries the resource and scope, and decodes as the OTLP message it is.
        let bytes: [UInt8] = try exporter.exportRequest([record]).serializedBytes()
        let decoded = try Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(serializedBytes: bytes)
        #expect(decoded.resourceLogs.first?.resource.attributes.first { $0.key == "service.name" }?.value.stringValue == "archway")
        #expect(decoded.resourceLogs.first?.scopeLogs.first?.scope.name == "archway")
        #expect(decoded.resourceLogs.first?.scopeLogs.first?.logRecords == [record])
    }

    @Test func outsideASpanARecordHasNoIdsAndAFullQueueDrops() {
        var settings = OTLPExportSettings()
        settings.maxQueueSize = 2
        let exporter = OTLPLogExporter(settings: settings, diagnostics: Logger(label: "test"))
        let events = Logger(label: "events") { label in exporter.eventHandler(label: label, metadataProvider: nil) }
        for _ in 0..<3 { events.info("gen_ai.evaluation.result") }
        #expect(exporter.pending.count == 2 && exporter.droppedRecords == 1)
        #expect(exporter.pending.allSatisfy { $0.traceID.isEmpty && $0.spanID.isEmpty })
        // An all-zero (invalid) id is not copied.
        #expect(OTLPEventLogHandler.bytes(hex: "00000000000000000000000000000000", count: 16) == nil)
        #expect(OTLPEventLogHandler.bytes(hex: "zz", count: 1) == nil)
    }
}
