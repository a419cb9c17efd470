/// Where and how one OTLP signal (spans or log records) is exported, from the standard `OTEL_*`
/// variables, the way the OpenTelemetry SDKs read them.
public struct OTLPExportSettings: Sendable, Hashable {
    /// The signals Archway exports itself.
    public enum Signal: String, Sendable, Hashable {
        case traces
        case logs

        /// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT`.
        var path: String { "/v1/\(rawValue)" }
        /// The infix of the signal's own variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
        var variable: String { rawValue.uppercased() }
        /// The prefix of the batch processor's variables (`OTEL_BSP_*`, `OTEL_BLRP_*`).
        var batchVariablePrefix: String { self == .traces ? "OTEL_BSP_" : "OTEL_BLRP_" }
    }

    /// `OTEL_EXPORTER_OTLP_COMPRESSION`: how request bodies are encoded.
    public enum Compression: String, Sendable, Hashable {
        case none
        case gzip
    }

    /// The full URL batches are posted to.
    public var endpoint: String
    public var headers: [String: String]
    public var compression: Compression
    public var timeout: Duration
    /// `service.name` and `OTEL_RESOURCE_ATTRIBUTES`.
    public var resourceAttributes: [String: String]
    /// Most items sent in one request.
    public var maxExportBatchSize: Int
    /// How often queued items are sent.
    public var scheduleDelay: Duration
    /// Items held at most; beyond it new ones are dropped (and counted).
    public var maxQueueSize: Int
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: longer string
    /// values (captured content, mostly) are cut to this many characters (Unicode scalars). Nil: no limit.
    public var attributeValueLengthLimit: Int?
    /// The largest request body (before compression) a batch is cut to: the OTLP specification advises
    /// clients to stay under 20 MiB, where the Collector refuses a body whole. A single larger item goes
    /// alone.
    public var maxRequestBytes: Int = 8 << 20

    public init(
        endpoint: String = "http://localhost:4318/v1/logs",
        headers: [String: String] = [:],
        compression: Compression = .none,
        timeout: Duration = .seconds(10),
        resourceAttributes: [String: String] = ["service.name": "archway"],
        maxExportBatchSize: Int = 512,
        scheduleDelay: Duration = .seconds(1),
        maxQueueSize: Int = 2_048
    ) {
        self.endpoint = endpoint
        self.headers = headers
        self.compression = compression
        self.timeout = timeout
        self.resourceAttributes = resourceAttributes
        self.maxExportBatchSize = maxExportBatchSize
        self.scheduleDelay = scheduleDelay
        self.maxQueueSize = maxQueueSize
    }

    /// The log settings the environment gives (see `init(signal:environment:defaults:)`).
    public init?(environment: [String: String], serviceName: String = "archway") {
        self.init(signal: .logs, environment: environment, defaults: OTLPExportSettings(), serviceName: serviceName)
    }

    /// The settings the environment gives for a signal, over `defaults`; nil when the signal's export is
    /// off (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`, `OTEL_LOGS_EXPORTER=none`) or asks for an
    /// exporter or protocol this one is not (`console`, gRPC).
    public init?(signal: Signal, environment: [String: String], defaults: OTLPExportSettings, serviceName: String = "archway") {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return nil }
        // `otlp` is the one exporter spoken; `none` (or only others, such as `console`) means none.
        if let exporters = Self.exporters(signal, environment), !exporters.contains("otlp") { return nil }
        let signalVariable = { (name: String) in
            environment["OTEL_EXPORTER_OTLP_\(signal.variable)_\(name)"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["OTEL_EXPORTER_OTLP_\(name)"]
        }
        guard Self.requestedProtocol(signal.variable, environment) == "http/protobuf" else { return nil }
        self = defaults
        if let endpoint = environment["OTEL_EXPORTER_OTLP_\(signal.variable)_ENDPOINT"], !endpoint.isEmpty {
            self.endpoint = endpoint
        } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty {
            self.endpoint = (base.hasSuffix("/") ? String(base.dropLast()) : base) + signal.path
        } else {
            self.endpoint = "http://localhost:4318" + signal.path
        }
        headers = Self.headers(signalVariable: signal.variable, environment: environment)
        if let text = signalVariable("COMPRESSION") {
            compression = Compression(rawValue: text.lowercased()) ?? .none
        }
        if let text = signalVariable("TIMEOUT"), let milliseconds = Int(text), milliseconds > 0 {
            timeout = .milliseconds(milliseconds)
        }
        resourceAttributes = Self.resourceAttributes(environment: environment, serviceName: serviceName)
        let batch = signal.batchVariablePrefix
        if let size = environment[batch + "MAX_EXPORT_BATCH_SIZE"].flatMap(Int.init), size > 0 { maxExportBatchSize = size }
        if let size = environment[batch + "MAX_QUEUE_SIZE"].flatMap(Int.init), size > 0 { maxQueueSize = size }
        if let delay = environment[batch + "SCHEDULE_DELAY"].flatMap(Int.init), delay > 0 { scheduleDelay = .milliseconds(delay) }
        let limit = signal == .traces ? environment["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"].flatMap(Int.init) : nil
        if let limit = limit ?? environment["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"].flatMap(Int.init), limit >= 0 {
            attributeValueLengthLimit = limit
        }
    }

    /// Every signal's resource, so traces, metrics and events name one service and one instance: the SDK's
    /// attributes (`telemetry.sdk.*`) and a random `service.instance.id`, under `OTEL_RESOURCE_ATTRIBUTES`
    /// (percent-decoded, which wins), with `service.name` from `OTEL_SERVICE_NAME`, else the attributes,
    /// else `serviceName`.
    public static func resourceAttributes(environment: [String: String], serviceName: String = "archway") -> [String: String] {
        var attributes = OTLPResource.defaults
        attributes.merge(pairs(environment["OTEL_RESOURCE_ATTRIBUTES"] ?? "")) { _, configured in configured }
        attributes["service.name"] = environment["OTEL_SERVICE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? attributes["service.name"] ?? serviceName
        return attributes
    }

    /// Whether metrics go out over OTLP, which swift-otel's exporter does only as `otlp` over HTTP.
    public enum MetricsExport: Sendable, Hashable {
        case otlp
        /// `OTEL_METRICS_EXPORTER=none`.
        case none
        /// Asked for something no exporter here speaks (`console`, gRPC): the reason, for a warning.
        case unsupported(String)
    }

    /// What the environment asks of metrics export (`OTEL_METRICS_EXPORTER`, the metrics or general
    /// OTLP protocol). swift-otel implements neither its `console` exporter nor, in this build, gRPC: it
    /// stops or traps on them, so they are turned into a warning and no export instead.
    public static func metricsExport(environment: [String: String]) -> MetricsExport {
        if let exporters = exporters("METRICS", environment), !exporters.contains("otlp") {
            if exporters.isEmpty || exporters.contains("none") { return .none }
            return .unsupported("OTEL_METRICS_EXPORTER=\(environment["OTEL_METRICS_EXPORTER"] ?? ""): only otlp (or none) is exported; /metrics still serves Prometheus")
        }
        let proto = requestedProtocol("METRICS", environment)
        guard proto.hasPrefix("http/") else {
            return .unsupported("OTLP protocol \(proto.prefix(32)) for metrics: only http/protobuf is spoken; /metrics still serves Prometheus")
        }
        return .otlp
    }

    /// The exporters `OTEL_<SIGNAL>_EXPORTER` names (`signalVariable`: `TRACES`, `METRICS`, `LOGS`), or
    /// nil when it is not set.
    static func exporters(_ signalVariable: String, _ environment: [String: String]) -> [Substring]? {
        environment["OTEL_\(signalVariable)_EXPORTER"].map { $0.lowercased().split(separator: ",").map { $0.trimmingSpaces() } }
    }

    static func exporters(_ signal: Signal, _ environment: [String: String]) -> [Substring]? {
        exporters(signal.variable, environment)
    }

    /// The protocol, lowercased, a signal's OTLP export is asked to speak: its own
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`.
    static func requestedProtocol(_ signalVariable: String, _ environment: [String: String]) -> String {
        (environment["OTEL_EXPORTER_OTLP_\(signalVariable)_PROTOCOL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf").lowercased()
    }

    /// The protocol a signal's OTLP export is asked to speak when it is not `http/protobuf` (gRPC, say):
    /// the signal is then not exported, which is worth a warning at start-up.
    public static func unsupportedProtocol(_ signal: Signal, environment: [String: String]) -> String? {
        if let exporters = exporters(signal, environment), !exporters.contains("otlp") { return nil }
        let proto = requestedProtocol(signal.variable, environment)
        return proto == "http/protobuf" ? nil : String(proto.prefix(32))
    }

    /// The value of `OTEL_<SIGNAL>_EXPORTER` when it names neither `otlp` nor `none`: the signal is then
    /// not exported, which is worth a warning at start-up.
    public static func unsupportedExporter(_ signal: Signal, environment: [String: String]) -> String? {
        guard let exporters = exporters(signal, environment), !exporters.contains("otlp"), !exporters.contains("none") else { return nil }
        return environment["OTEL_\(signal.variable)_EXPORTER"]
    }

    /// `key=value,key=value`, percent-decoded, as the OTLP exporter specification writes headers and
    /// resource attributes.
    static func pairs(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for item in text.split(separator: ",") {
            guard let equals = item.firstIndex(of: "=") else { continue }
            let key = percentDecoded(item[..<equals].trimmingSpaces())
            let value = percentDecoded(item[item.index(after: equals)...].trimmingSpaces())
            if !key.isEmpty { result[key] = value }
        }
        return result
    }

    /// The headers `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS` (`METRICS`, say)
    /// give a signal, percent-decoded, the signal's own winning: for swift-otel's metrics exporter, which
    /// reads the variables without decoding them, so it is handed these instead.
    public static func headers(signalVariable: String, environment: [String: String]) -> [String: String] {
        var headers = pairs(environment["OTEL_EXPORTER_OTLP_HEADERS"] ?? "")
        headers.merge(pairs(environment["OTEL_EXPORTER_OTLP_\(signalVariable)_HEADERS"] ?? "")) { _, signal in signal }
        return headers
    }

    /// `endpoint` as logs may show it: a `user:password@` in the URL is left out.
    public var loggableEndpoint: String { Self.withoutUserInfo(endpoint) }

    /// A URL without the credentials it may carry (`http://user:secret@host` is `http://***@host`).
    public static func withoutUserInfo(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(rest[at...])
    }

    static func percentDecoded(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        guard let start = firstIndex(where: { $0 != " " }), let last = lastIndex(where: { $0 != " " }) else { return "" }
        return self[start...last]
    }
}
