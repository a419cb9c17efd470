/// Where and how OTLP log records are exported, from the standard `OTEL_*` variables, the way the
/// OpenTelemetry SDKs read them for the logs signal.
public struct OTLPExportSettings: Sendable, Hashable {
    /// The full URL records are posted to.
    public var endpoint: String
    public var headers: [String: String]
    public var timeout: Duration
    /// `service.name` and `OTEL_RESOURCE_ATTRIBUTES`.
    public var resourceAttributes: [String: String]
    /// Records held before a batch is sent at once (otherwise every `scheduleDelay`).
    public var maxExportBatchSize: Int
    public var scheduleDelay: Duration
    /// Records held at most; beyond it new ones are dropped (and counted).
    public var maxQueueSize: Int

    public init(
        endpoint: String = "http://localhost:4318/v1/logs",
        headers: [String: String] = [:],
        timeout: Duration = .seconds(10),
        resourceAttributes: [String: String] = ["service.name": "archway"],
        maxExportBatchSize: Int = 512,
        scheduleDelay: Duration = .seconds(1),
        maxQueueSize: Int = 2_048
    ) {
        self.endpoint = endpoint
        self.headers = headers
        self.timeout = timeout
        self.resourceAttributes = resourceAttributes
        self.maxExportBatchSize = maxExportBatchSize
        self.scheduleDelay = scheduleDelay
        self.maxQueueSize = maxQueueSize
    }

    /// The settings the environment gives, or nil when log export is off (`OTEL_SDK_DISABLED=true`,
    /// `OTEL_LOGS_EXPORTER=none`) or asks for a protocol this exporter does not speak (gRPC).
    public init?(environment: [String: String], serviceName: String = "archway") {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return nil }
        if let exporter = environment["OTEL_LOGS_EXPORTER"]?.lowercased(), exporter == "none" { return nil }
        let proto = (environment["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf").lowercased()
        guard proto == "http/protobuf" else { return nil }
        self.init()
        if let endpoint = environment["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"], !endpoint.isEmpty {
            self.endpoint = endpoint
        } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty {
            self.endpoint = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/logs"
        }
        headers = Self.pairs(environment["OTEL_EXPORTER_OTLP_HEADERS"] ?? "")
        headers.merge(Self.pairs(environment["OTEL_EXPORTER_OTLP_LOGS_HEADERS"] ?? "")) { _, signal in signal }
        if let text = environment["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"] ?? environment["OTEL_EXPORTER_OTLP_TIMEOUT"],
           let milliseconds = Int(text), milliseconds > 0 {
            timeout = .milliseconds(milliseconds)
        }
        resourceAttributes = Self.pairs(environment["OTEL_RESOURCE_ATTRIBUTES"] ?? "")
        resourceAttributes["service.name"] = environment["OTEL_SERVICE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? resourceAttributes["service.name"] ?? serviceName
        if let size = environment["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"].flatMap(Int.init), size > 0 { maxExportBatchSize = size }
        if let size = environment["OTEL_BLRP_MAX_QUEUE_SIZE"].flatMap(Int.init), size > 0 { maxQueueSize = size }
        if let delay = environment["OTEL_BLRP_SCHEDULE_DELAY"].flatMap(Int.init), delay > 0 { scheduleDelay = .milliseconds(delay) }
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
