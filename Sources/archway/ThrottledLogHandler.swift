import CoreMetrics
import Logging
import Synchronization

/// The OpenTelemetry SDK's diagnostic log: prints each distinct warning at most once per interval
/// (an absent collector must not flood the log), and counts lost telemetry in `archway.telemetry.dropped`
/// so drops are never silent.
struct ThrottledLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String
    let interval: Duration
    private let base: StreamLogHandler
    private static let lastPrinted = Mutex<[String: (at: ContinuousClock.Instant, suppressed: Int)]>([:])

    init(label: String, interval: Duration) {
        self.label = label
        self.interval = interval
        self.base = StreamLogHandler.standardError(label: label)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        countDrops(message: event.message.description, metadata: merged)
        guard event.level >= .warning else {
            if event.level >= logLevel { base.log(event: event) }
            return
        }
        let key = event.message.description
        let now = ContinuousClock.now
        let suppressed: Int? = Self.lastPrinted.withLock { table in
            if let last = table[key], last.at.duration(to: now) < interval {
                table[key]?.suppressed += 1
                return nil
            }
            let count = table[key]?.suppressed ?? 0
            table[key] = (now, 0)
            return count
        }
        guard let suppressed else { return }
        var event = event
        event.metadata = merged
        if suppressed > 0 { event.metadata?["suppressed_since_last"] = "\(suppressed)" }
        base.log(event: event)
    }

    private func countDrops(message: String, metadata: Logger.Metadata) {
        let dropped: (count: Int, reason: String)?
        switch message {
        case "Spans were dropped this iteration because queue was full":
            dropped = (metadata["dropped_count"].flatMap { Int("\($0)") } ?? 1, "queue_full")
        case "Failed to export batch.":
            dropped = (metadata["batch_size"].flatMap { Int("\($0)") } ?? 1, "export_failed")
        default:
            dropped = nil
        }
        guard let dropped, dropped.count > 0 else { return }
        // The global factory: bootstrapped (OTLP and /metrics) before the SDK exports anything.
        Counter(label: "archway.telemetry.dropped", dimensions: [("unit", "{span}"), ("reason", dropped.reason)])
            .increment(by: dropped.count)
    }
}
