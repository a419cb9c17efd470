public import AsyncHTTPClient
import CoreMetrics
public import Logging
public import ServiceLifecycle
import Synchronization

/// Exports ended spans over OTLP/HTTP protobuf (gzip with `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`), in
/// batches, off the request path.
///
/// Spans wait in a bounded queue: appending one is a lock and a copy of a value. Every
/// `scheduleDelay` the exporter's task takes the whole queue (swapping in an emptied buffer, so the
/// queue's storage is reused rather than reallocated) and sends it in requests of at most
/// `maxExportBatchSize` spans. A full queue drops new spans; drops and failed exports are counted in
/// `archway.telemetry.dropped{reason}`.
public final class OTLPSpanExporter: Service, Sendable {
    private struct Queue: Sendable {
        var spans: [OTLPFinishedSpan] = []
        var dropped = 0
    }

    public let settings: OTLPExportSettings
    private let queue = Mutex(Queue())
    /// The buffer the next swap puts in place; only the exporter's task touches it.
    private let spare = Mutex<[OTLPFinishedSpan]>([])
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let encoding: OTLPTraceEncoding

    public init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger) {
        self.settings = settings
        self.transport = OTLPHTTPTransport(settings: settings, client: client)
        self.diagnostics = diagnostics
        self.encoding = OTLPTraceEncoding(resourceAttributes: settings.resourceAttributes)
    }

    /// Spans dropped because the queue was full.
    public var droppedSpans: Int { queue.withLock { $0.dropped } }

    /// Spans waiting for the next export.
    var queuedSpans: [OTLPFinishedSpan] { queue.withLock { $0.spans } }

    /// Takes every queued span and returns them as one export request body, the bytes `run` would post:
    /// for tools that measure or inspect the export path (the micro benchmarks).
    public func takeExportBody() -> [UInt8] {
        var taken: [OTLPFinishedSpan] = []
        queue.withLock { swap(&$0.spans, &taken) }
        return encoding.encode(taken[...])
    }

    func enqueue(_ span: OTLPFinishedSpan) {
        let accepted = queue.withLock { queue in
            guard queue.spans.count < settings.maxQueueSize else {
                queue.dropped += 1
                return false
            }
            queue.spans.append(span)
            return true
        }
        if !accepted { Self.countDropped(1, reason: "queue_full") }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.settings.scheduleDelay)
                await self.exportQueued()
            }
        }
        // Shutdown: what is left goes out once (the caller bounds how long that may take).
        await exportQueued()
    }

    /// Sends everything queued now, in batches; returns once every batch has been answered.
    public func exportQueued() async {
        var batch = spare.withLock { spare in
            var taken: [OTLPFinishedSpan] = []
            swap(&taken, &spare)
            return taken
        }
        queue.withLock { swap(&$0.spans, &batch) }
        defer {
            batch.removeAll(keepingCapacity: true)
            spare.withLock { swap(&$0, &batch) }
        }
        var start = batch.startIndex
        while start < batch.endIndex {
            let end = min(start + settings.maxExportBatchSize, batch.endIndex)
            await export(batch[start..<end])
            start = end
        }
    }

    private func export(_ spans: ArraySlice<OTLPFinishedSpan>) async {
        do {
            let status = try await transport.post(encoding.encode(spans))
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
