import Tracing
import W3CTraceContext

/// Writes an OTLP `ExportTraceServiceRequest` straight from finished spans, in the wire format the
/// official `opentelemetry-proto` definitions describe (`opentelemetry/proto/trace/v1/trace.proto`,
/// `collector/trace/v1/trace_service.proto`, `common/v1/common.proto`).
///
/// Why not build the generated swift-protobuf messages and serialise them: that made a message (a
/// storage class) per span, attribute and value, copied the attribute arrays, and walked everything
/// twice (sizes, then bytes); it was the largest single cost of tracing under load, about an eighth of
/// the gateway's CPU. Here each attribute is sized and written in one go and a span is written once into
/// a reused buffer. The tests decode the output with the generated messages and compare it with the
/// same spans built as messages.
struct OTLPTraceEncoding {
    /// The resource (`service.name`, …) as encoded `Resource` fields, computed once.
    private let resource: [UInt8]
    private let scopeName: String

    init(resourceAttributes: [String: String], scopeName: String = "archway") {
        var writer = ProtobufWriter()
        for (key, value) in OTLPResource.attributes(resourceAttributes) {
            writer.keyValue(1, key: key, value: .string(value))
        }
        resource = writer.bytes
        self.scopeName = scopeName
    }

    /// The export request's bytes for a batch.
    func encode(_ spans: ArraySlice<OTLPFinishedSpan>) -> [UInt8] {
        var spanBytes = ProtobufWriter(capacity: spans.count * 600)
        var scratch = ProtobufWriter(capacity: 1_024)
        var nested = ProtobufWriter(capacity: 256)
        for span in spans {
            spanBytes.message(2, scratch: &scratch) { writer in writer.span(span, scratch: &nested) }
        }
        // ScopeSpans { scope = 1 { name = 1 }, spans = 2 … }
        var scope = ProtobufWriter()
        scope.string(1, scopeName)
        let scopeSpansLength = ProtobufWriter.fieldSize(length: scope.bytes.count) + spanBytes.bytes.count
        // ResourceSpans { resource = 1, scope_spans = 2 }
        let resourceSpansLength = ProtobufWriter.fieldSize(length: resource.count) + ProtobufWriter.fieldSize(length: scopeSpansLength)
        var request = ProtobufWriter(capacity: ProtobufWriter.fieldSize(length: resourceSpansLength))
        request.lengthPrefix(1, resourceSpansLength)
        request.lengthPrefix(1, resource.count)
        request.bytes.append(contentsOf: resource)
        request.lengthPrefix(2, scopeSpansLength)
        request.lengthPrefix(1, scope.bytes.count)
        request.bytes.append(contentsOf: scope.bytes)
        request.bytes.append(contentsOf: spanBytes.bytes)
        return request.bytes
    }
}

extension ProtobufWriter {
    /// A `Span`'s fields.
    mutating func span(_ span: OTLPFinishedSpan, scratch: inout ProtobufWriter) {
        raw(1, bytesOf: span.context.traceID.bytes)
        raw(2, bytesOf: span.context.spanID.bytes)
        if let state = span.context.traceStateHeader { string(3, state) }
        if let parent = span.context.parentSpanID { raw(4, bytesOf: parent.bytes) }
        string(5, span.name)
        uint(6, UInt64(span.kind.protoValue))
        fixed64(7, span.startNanoseconds)
        fixed64(8, span.endNanoseconds)
        span.attributes.forEach { key, value in keyValue(9, key: key, value: value) }
        for event in span.events {
            message(11, scratch: &scratch) { writer in
                writer.fixed64(1, event.nanosecondsSinceEpoch)
                writer.string(2, event.name)
                event.attributes.forEach { key, value in writer.keyValue(3, key: key, value: value) }
            }
        }
        for link in span.links {
            guard let linked = link.context.otlpSpanContext else { continue }
            message(13, scratch: &scratch) { writer in
                writer.raw(1, bytesOf: linked.traceID.bytes)
                writer.raw(2, bytesOf: linked.spanID.bytes)
                if let state = linked.traceStateHeader { writer.string(3, state) }
                link.attributes.forEach { key, value in writer.keyValue(4, key: key, value: value) }
                writer.fixed32(6, linked.linkFlags)
            }
        }
        if let status = span.status {
            // Status { message = 2, code = 3 }: OK = 1, ERROR = 2.
            let message = status.code == .error ? status.message : nil
            let messageSize = message.map { ProtobufWriter.fieldSize(length: $0.utf8.count) } ?? 0
            lengthPrefix(15, messageSize + 2)
            if let message { string(2, message) }
            uint(3, status.code == .ok ? 1 : 2)
        }
        fixed32(16, span.context.spanFlags)
    }

    /// A `KeyValue` { key = 1, value = 2 (`AnyValue`) } in field `field`, sized first so nothing is copied.
    mutating func keyValue(_ field: Int, key: String, value: SpanAttribute) {
        let value = value.encodable
        let valueSize = value.size
        let keySize = key.utf8.count
        lengthPrefix(field, ProtobufWriter.fieldSize(length: keySize) + ProtobufWriter.fieldSize(length: valueSize))
        string(1, key)
        lengthPrefix(2, valueSize)
        anyValue(value)
    }

    /// An `AnyValue`'s one field: string = 1, bool = 2, int = 3, double = 4, array = 5 (`ArrayValue` { values = 1 }).
    mutating func anyValue(_ value: EncodableValue) {
        switch value {
        case .string(let text): string(1, text)
        case .bool(let flag): uint(2, flag ? 1 : 0)
        case .int(let number): uint(3, UInt64(bitPattern: number))
        case .double(let number):
            tag(4, .fixed64)
            withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        case .array(let values):
            lengthPrefix(5, values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: $1.size) })
            for element in values {
                lengthPrefix(1, element.size)
                anyValue(element)
            }
        }
    }
}

/// An attribute value in the shapes `AnyValue` has, with its encoded size.
indirect enum EncodableValue {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([EncodableValue])

    /// The size of the `AnyValue` message holding it.
    var size: Int {
        switch self {
        case .string(let text): ProtobufWriter.fieldSize(length: text.utf8.count)
        case .bool: 2
        case .int(let number): 1 + ProtobufWriter.varintSize(UInt64(bitPattern: number))
        case .double: 9
        case .array(let values): ProtobufWriter.fieldSize(length: values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: $1.size) })
        }
    }
}

extension SpanAttribute {
    var encodable: EncodableValue {
        switch self {
        case .string(let text): .string(text)
        case .int64(let number): .int(number)
        case .int32(let number): .int(Int64(number))
        case .double(let number): .double(number)
        case .bool(let flag): .bool(flag)
        case .stringConvertible(let value): .string(value.description)
        case .stringArray(let values): .array(values.map { .string($0) })
        case .int64Array(let values): .array(values.map { .int($0) })
        case .int32Array(let values): .array(values.map { .int(Int64($0)) })
        case .doubleArray(let values): .array(values.map { .double($0) })
        case .boolArray(let values): .array(values.map { .bool($0) })
        case .stringConvertibleArray(let values): .array(values.map { .string($0.description) })
        default: .string("\(self)")
        }
    }
}

extension SpanKind {
    /// OTLP's `Span.SpanKind` numbers.
    var protoValue: Int {
        switch self {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }
}

extension OTLPSpanContext {
    /// A span's flags: the W3C flags in the low byte; bit 8 says bit 9 is known, bit 9 that the parent
    /// is remote.
    var spanFlags: UInt32 {
        UInt32(flags.rawValue) | 0x100 | (parentIsRemote ? 0x200 : 0)
    }

    /// A link's flags: the same, bit 9 saying the linked span is remote.
    var linkFlags: UInt32 {
        UInt32(flags.rawValue) | 0x100 | (isRemote ? 0x200 : 0)
    }

    /// `tracestate` as the header writes it, or nil when empty.
    var traceStateHeader: String? {
        guard !state.isEmpty else { return nil }
        return TraceContext(traceID: traceID, spanID: spanID, flags: flags, state: state).traceStateHeaderValue
    }
}
