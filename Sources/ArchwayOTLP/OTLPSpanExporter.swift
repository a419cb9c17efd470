public import AsyncHTTPClient
import CoreMetrics
import NIOCore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Exports ended spans over OTLP/HTTP protobuf (gzip with `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`), in
/// batches, off the request path.
///
/// A span is encoded by the thread that ends it and waits, as bytes, in a bounded `OTLPSpanQueue`; every
/// `scheduleDelay` the exporter's task takes them all and sends them in requests of at most
/// `maxExportBatchSize` spans. A full queue drops new spans; drops and failed exports are counted in
/// `archway.telemetry.dropped{reason}`.
public final class OTLPSpanExporter: Service, Sendable {
    public let settings: OTLPExportSettings
    private let queue: OTLPSpanQueue
    private let transport: OTLPHTTPTransport
    private let diagnostics: Logger
    private let encoding: OTLPTraceEncoding
    /// The export request's buffer, used by one export at a time (exports run one after another on the
    /// exporter's task).
    private let body = Mutex(ByteBuffer())
    /// Every span as it ended, kept for tests that compare the export with the spans (nil otherwise).
    private let ended: Mutex<[OTLPFinishedSpan]>?

    public convenience init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger) {
        self.init(settings: settings, client: client, diagnostics: diagnostics, keepsEndedSpans: false)
    }

    init(settings: OTLPExportSettings, client: HTTPClient = .shared, diagnostics: Logger, keepsEndedSpans: Bool) {
        self.settings = settings
        self.queue = OTLPSpanQueue(capacity: settings.maxQueueSize)
        self.transport = OTLPHTTPTransport(settings: settings, client: client)
        self.diagnostics = diagnostics
        self.encoding = OTLPTraceEncoding(resourceAttributes: settings.resourceAttributes)
        self.ended = keepsEndedSpans ? Mutex([]) : nil
    }

    /// Spans dropped because the queue was full.
    public var droppedSpans: Int { queue.dropped }

    /// Spans waiting for the next export.
    var queuedSpanCount: Int { queue.count }

    /// The spans queued since the last call, as they ended (only with `keepsEndedSpans`).
    func takeEndedSpans() -> [OTLPFinishedSpan] {
        ended?.withLock { spans in
            defer { spans = [] }
            return spans
        } ?? []
    }

    /// Takes every queued span and returns them as one export request body, the bytes `run` would post:
    /// for tools that measure or inspect the export path (the micro benchmarks).
    public func takeExportBody() -> [UInt8] {
        var body = ByteBuffer()
        return Array(encoding.encode(queue.takeAll().bytes[...], into: &body).readableBytesView)
    }

    /// Encodes an ended span on the calling thread, into its thread's scratch buffers, and queues the bytes.
    func enqueue(_ span: OTLPFinishedSpan) {
        let queued = OTLPSpanScratch.with { scratch in
            scratch.span.bytes.removeAll(keepingCapacity: true)
            scratch.span.span(span, scratch: &scratch.nested)
            // ScopeSpans.spans = 2
            return queue.append(field: 2, message: scratch.span.bytes)
        }
        if queued {
            ended?.withLock { $0.append(span.decodingAttributes) }
        } else {
            Self.countDropped(1, reason: "queue_full")
        }
    }

    public func run() async throws {
        await exportPeriodically(every: settings.scheduleDelay) { await self.exportQueued() }
    }

    /// Sends everything queued now, in batches; returns once every batch has been answered.
    public func exportQueued() async {
        var exported = false
        await queue.drain(batchSize: settings.maxExportBatchSize, maxBytes: settings.maxRequestBytes) { spans, count in
            exported = true
            await self.export(spans, count: count)
        }
        // Nothing to send: traffic has stopped, so a load's batch buffers go back to the allocator.
        if !exported { body.withLock { Self.releaseOversized(&$0, used: 0) } }
    }

    /// The capacities of the reused export buffers: the request body and the queue's (tests).
    var bufferCapacities: (body: Int, spans: Int) {
        let queued = queue.capacities
        return (body.withLock { $0.capacity }, max(queued.spans, queued.spare))
    }

    private func export(_ spans: ArraySlice<UInt8>, count: Int) async {
        var body = self.body.withLock { body in
            var taken = ByteBuffer()
            swap(&taken, &body)
            return taken
        }
        defer {
            Self.releaseOversized(&body, used: body.readableBytes)
            self.body.withLock { [body] in $0 = body }
        }
        if case .failed(_, let reason) = await transport.send(encoding.encode(spans, into: &body)) {
            Self.countDropped(count, reason: "export_failed")
            // The endpoint only: headers may hold credentials.
            diagnostics.warning("OTLP span export failed", metadata: ["endpoint": "\(settings.loggableEndpoint)", "spans": "\(count)", "reason": "\(reason)"])
        }
    }

    /// Lets go of a body over 64 KiB and four times larger than `used` bytes: the last export's size, or
    /// zero when there was nothing to export.
    private static func releaseOversized(_ body: inout ByteBuffer, used: Int) {
        if body.capacity > max(4 * used, 64 * 1_024) { body = ByteBuffer() }
    }

    private static func countDropped(_ count: Int, reason: String) {
        Counter(label: "archway.telemetry.dropped", dimensions: [("unit", "{span}"), ("reason", reason)]).increment(by: count)
    }
}
