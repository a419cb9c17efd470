import Logging

/// swift-log's `StreamLogHandler` on standard error, with the same output, but metadata formatted when a
/// line is logged rather than whenever a key is set.
///
/// `StreamLogHandler` re-renders all of its metadata as text on every change. Hummingbird sets a request
/// ID on each request's logger, so that rendering ran once per request and showed as 4 % of the
/// gateway's CPU under load, for lines that are almost never logged at `info`.
struct StandardErrorLogHandler: LogHandler {
    private var base: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String, logLevel: Logger.Level = .info) {
        base = StreamLogHandler.standardError(label: label)
        base.logLevel = logLevel
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard !metadata.isEmpty else { return base.log(event: event) }
        var event = event
        // The line's own metadata wins over the logger's, as in `StreamLogHandler`.
        event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        base.log(event: event)
    }
}
