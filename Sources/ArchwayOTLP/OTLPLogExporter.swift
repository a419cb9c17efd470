public import AsyncHTTPClient
import NIOCore
import Foundation
public import Logging
public import ServiceLifecycle
import SwiftProtobuf

/// Exports log records (GenAI events such as `gen_ai.evaluation.result`) over OTLP/HTTP protobuf, in
/// batches, off the request path. swift-otel 1.6's logs pipeline cannot set a record's `event_name`
/// (its OTLP definitions predate the field), so Archway exports its events itself, from the official
/// definitions compiled with swift-protobuf.
///
/// Records wait in a bounded queue (full: dropped and counted in `droppedRecords`) and leave every
/// `scheduleDelay`; at shutdown the queue is flushed once.
public final class OTLPLogExporter: Service, Sendable {
    public let settings: OTLPExportSettings
    private let queue: OTLPExportQueue<Opentelemetry_Proto_Logs_V1_LogRecord>
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let resource: Opentelemetry_Proto_Resource_V1_Resource

    public init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger) {
        self.settings = settings
        self.queue = OTLPExportQueue(capacity: settings.maxQueueSize)
        self.transport = OTLPHTTPTransport(settings: settings, client: client)
        self.diagnostics = diagnostics
        self.resource = .init(attributes: settings.resourceAttributes)
    }

    /// A `LogHandler` for the loggers whose records are events: each record's message is the event
    /// name, its metadata the attributes; the current span (from the metadata provider) parents it.
    public func eventHandler(label: String, metadataProvider: Logger.MetadataProvider?) -> any LogHandler {
        OTLPEventLogHandler(exporter: self, metadataProvider: metadataProvider)
    }

    /// Records dropped because the queue was full.
    public var droppedRecords: Int { queue.dropped }

    /// Records waiting for the next export.
    var pending: [Opentelemetry_Proto_Logs_V1_LogRecord] { queue.items }

    func enqueue(_ record: Opentelemetry_Proto_Logs_V1_LogRecord) {
        _ = queue.append(record)
    }

    public func run() async throws {
        // Events are few (a share of a share of calls): one tick a `scheduleDelay` sends them all, in
        // batches of at most `maxExportBatchSize`.
        await exportPeriodically(every: settings.scheduleDelay) {
            await self.queue.drain(batchSize: self.settings.maxExportBatchSize) { await self.export(Array($0)) }
        }
    }

    /// The export request for a batch: one resource (the service), one scope (`archway`).
    func exportRequest(_ records: [Opentelemetry_Proto_Logs_V1_LogRecord]) -> Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest {
        var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scope.scope.name = "archway"
        scope.logRecords = records
        var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        resourceLogs.resource = resource
        resourceLogs.scopeLogs = [scope]
        var message = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        message.resourceLogs = [resourceLogs]
        return message
    }

    func export(_ records: [Opentelemetry_Proto_Logs_V1_LogRecord]) async {
        let body = ByteBuffer(bytes: (try? exportRequest(records).serializedBytes() as [UInt8]) ?? [])
        if case .failed(_, let reason) = await transport.send(body) {
            // The endpoint only: headers may hold credentials.
            diagnostics.warning("OTLP log export failed", metadata: ["endpoint": "\(settings.loggableEndpoint)", "records": "\(records.count)", "reason": "\(reason)"])
        }
    }
}
