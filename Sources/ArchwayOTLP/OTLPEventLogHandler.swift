import Foundation
public import Logging

/// Turns swift-log records into OTLP event records: the message is the `event_name`, the metadata the
/// attributes (numbers and booleans keep their types), and the metadata provider's `trace_id` and
/// `span_id` (swift-otel's, from the current span) become the record's trace and span ids.
struct OTLPEventLogHandler: LogHandler {
    let exporter: OTLPLogExporter
    var metadataProvider: Logger.MetadataProvider?
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    init(exporter: OTLPLogExporter, metadataProvider: Logger.MetadataProvider?) {
        self.exporter = exporter
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000_000)
        var record = Opentelemetry_Proto_Logs_V1_LogRecord()
        record.timeUnixNano = now
        record.observedTimeUnixNano = now
        record.eventName = event.message.description
        record.severityNumber = Self.severity(event.level)
        record.severityText = event.level.rawValue.uppercased()
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if case .string(let trace)? = merged.removeValue(forKey: "trace_id"), let bytes = Self.bytes(hex: trace, count: 16) {
            record.traceID = bytes
        }
        if case .string(let span)? = merged.removeValue(forKey: "span_id"), let bytes = Self.bytes(hex: span, count: 8) {
            record.spanID = bytes
        }
        if case .string(let flags)? = merged.removeValue(forKey: "trace_flags"), let value = UInt32(flags, radix: 16) {
            record.flags = value & 0xFF
        }
        record.attributes = merged.sorted { $0.key < $1.key }.map { key, value in
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value = Self.anyValue(value)
            return pair
        }
        exporter.enqueue(record)
    }

    static func anyValue(_ value: Logger.Metadata.Value) -> Opentelemetry_Proto_Common_V1_AnyValue {
        var any = Opentelemetry_Proto_Common_V1_AnyValue()
        switch value {
        case .string(let text):
            any.stringValue = text
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Double: any.doubleValue = number
            case let number as Int: any.intValue = Int64(number)
            case let flag as Bool: any.boolValue = flag
            default: any.stringValue = convertible.description
            }
        case .array(let items):
            var list = Opentelemetry_Proto_Common_V1_ArrayValue()
            list.values = items.map(anyValue)
            any.arrayValue = list
        case .dictionary(let entries):
            var list = Opentelemetry_Proto_Common_V1_KeyValueList()
            list.values = entries.sorted { $0.key < $1.key }.map { key, value in
                var pair = Opentelemetry_Proto_Common_V1_KeyValue()
                pair.key = key
                pair.value = anyValue(value)
                return pair
            }
            any.kvlistValue = list
        }
        return any
    }

    static func severity(_ level: Logger.Level) -> Opentelemetry_Proto_Logs_V1_SeverityNumber {
        switch level {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .info2
        case .warning: .warn
        case .error: .error
        case .critical: .fatal
        }
    }

    /// Lower-case or upper-case hex of exactly `count` bytes, not all zero.
    static func bytes(hex: String, count: Int) -> Data? {
        let digits = Array(hex.utf8)
        guard digits.count == count * 2 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes.allSatisfy({ $0 == 0 }) ? nil : Data(bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
