public import AsyncHTTPClient
import CoreMetrics
import NIOCore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Exports ended spans over OTLP/HTTP protobuf (gzip with `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`), in
/// batches, off the request path.
///
/// Spans wait in a bounded `OTLPExportQueue`; every `scheduleDelay` the exporter's task takes them all and
/// sends them in requests of at most `maxExportBatchSize` spans. A full queue drops new spans; drops and failed exports are counted in
/// `archway.telemetry.dropped{reason}`.
public final class OTLPSpanExporter: Service, Sendable {
    public let settings: OTLPExportSettings
    private let queue: OTLPExportQueue<OTLPFinishedSpan>
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let encoding: OTLPTraceEncoding
    /// Used by one export at a time (exports run one after another on the exporter's task).
    private let buffers = Mutex(OTLPExportBuffers())

    public init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger) {
        self.settings = settings
        self.queue = OTLPExportQueue(capacity: settings.maxQueueSize)
        self.transport = OTLPHTTPTransport(settings: settings, client: client)
        self.diagnostics = diagnostics
        self.encoding = OTLPTraceEncoding(resourceAttributes: settings.resourceAttributes)
    }

    /// Spans dropped because the queue was full.
    public var droppedSpans: Int { queue.dropped }

    /// Spans waiting for the next export.
    var queuedSpans: [OTLPFinishedSpan] { queue.items }

    /// Takes every queued span and returns them as one export request body, the bytes `run` would post:
    /// for tools that measure or inspect the export path (the micro benchmarks).
    public func takeExportBody() -> [UInt8] {
        var buffers = OTLPExportBuffers()
        return Array(encoding.encode(queue.takeAll()[...], into: &buffers).readableBytesView)
    }

    func enqueue(_ span: OTLPFinishedSpan) {
        if !queue.append(span) { Self.countDropped(1, reason: "queue_full") }
    }

    public func run() async throws {
        await exportPeriodically(every: settings.scheduleDelay) { await self.exportQueued() }
    }

    /// Sends everything queued now, in batches; returns once every batch has been answered.
    public func exportQueued() async {
        var exported = false
        await queue.drain(batchSize: settings.maxExportBatchSize) { spans in
            exported = true
            await self.export(spans)
        }
        // Nothing to send: traffic has stopped, so a load's batch buffers go back to the allocator.
        if !exported { buffers.withLock { $0.releaseOversized(used: 0) } }
    }

    /// The capacity of the reused export buffers (tests).
    var bufferCapacities: (body: Int, spans: Int) {
        buffers.withLock { ($0.body.capacity, $0.spans.bytes.capacity) }
    }

    private func export(_ spans: ArraySlice<OTLPFinishedSpan>) async {
        var buffers = self.buffers.withLock { buffers in
            var taken = OTLPExportBuffers()
            swap(&taken, &buffers)
            return taken
        }
        defer {
            buffers.releaseOversized(used: buffers.body.readableBytes)
            self.buffers.withLock { [buffers] in $0 = buffers }
        }
        do {
            let status = try await transport.post(encoding.encode(spans, into: &buffers))
            if !(200..<300).contains(status) {
                Self.countDropped(spans.count, reason: "export_failed")
                diagnostics.warning("OTLP span export failed", metadata: ["status": "\(status)", "endpoint": "\(settings.endpoint)", "spans": "\(spans.count)"])
            }
        } catch {
            Self.countDropped(spans.count, reason: "export_failed")
            // The endpoint only: headers may hold credentials.
            diagnostics.warning("OTLP span export failed", metadata: ["endpoint": "\(settings.endpoint)", "spans": "\(spans.count)", "error": "\(type(of: error))"])
        }
    }

    private static func countDropped(_ count: Int, reason: String) {
        Counter(label: "archway.telemetry.dropped", dimensions: [("unit", "{span}"), ("reason", reason)]).increment(by: count)
    }
}
