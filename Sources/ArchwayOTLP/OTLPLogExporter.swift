public import AsyncHTTPClient
import Foundation
public import Logging
public import ServiceLifecycle
import SwiftProtobuf
import Synchronization

/// Exports log records (GenAI events such as `gen_ai.evaluation.result`) over OTLP/HTTP protobuf, in
/// batches, off the request path. swift-otel 1.6's logs pipeline cannot set a record's `event_name`
/// (its OTLP definitions predate the field), so Archway exports its events itself, from the official
/// definitions compiled with swift-protobuf.
///
/// Records wait in a bounded queue (full: dropped and counted in `droppedRecords`) and leave every
/// `scheduleDelay`; at shutdown the queue is flushed once.
public final class OTLPLogExporter: Service, Sendable {
    private struct Queue: Sendable {
        var records: [Opentelemetry_Proto_Logs_V1_LogRecord] = []
        var dropped = 0
    }

    public let settings: OTLPExportSettings
    private let queue = Mutex(Queue())
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let resource: Opentelemetry_Proto_Resource_V1_Resource

    public init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger) {
        self.settings = settings
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
    public var droppedRecords: Int { queue.withLock { $0.dropped } }

    /// Records waiting for the next export.
    var pending: [Opentelemetry_Proto_Logs_V1_LogRecord] { queue.withLock { $0.records } }

    func enqueue(_ record: Opentelemetry_Proto_Logs_V1_LogRecord) {
        queue.withLock { queue in
            guard queue.records.count < settings.maxQueueSize else {
                queue.dropped += 1
                return
            }
            queue.records.append(record)
        }
    }

    public func run() async throws {
        // Events are few (a share of a share of calls): one tick a `scheduleDelay` sends them all, in
        // batches of at most `maxExportBatchSize`.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.settings.scheduleDelay)
                await self.exportQueued()
            }
        }
        // Shutdown: whatever is left goes out once.
        await exportQueued()
    }

    private func exportQueued() async {
        while true {
            let batch: [Opentelemetry_Proto_Logs_V1_LogRecord] = queue.withLock { queue in
                let count = min(queue.records.count, settings.maxExportBatchSize)
                defer { queue.records.removeFirst(count) }
                return Array(queue.records.prefix(count))
            }
            guard !batch.isEmpty else { return }
            await export(batch)
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
        do {
            let status = try await transport.post(exportRequest(records).serializedBytes())
            if !(200..<300).contains(status) {
                diagnostics.warning("OTLP log export failed", metadata: ["status": "\(status)", "endpoint": "\(settings.endpoint)", "records": "\(records.count)"])
            }
        } catch {
            // The endpoint only: headers may hold credentials.
            diagnostics.warning("OTLP log export failed", metadata: ["endpoint": "\(settings.endpoint)", "records": "\(records.count)", "error": "\(type(of: error))"])
        }
    }
}
