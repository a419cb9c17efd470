import NIOCore
import Tracing
import W3CTraceContext

/// Writes an OTLP `ExportTraceServiceRequest` straight from finished spans, in the wire format the
/// official `opentelemetry-proto` definitions describe (`opentelemetry/proto/trace/v1/trace.proto`,
/// `collector/trace/v1/trace_service.proto`, `common/v1/common.proto`).
///
/// Why not build the generated swift-protobuf messages and serialise them: that made a message (a
/// storage class) per span, attribute and value, copied the attribute arrays, and walked everything
/// twice (sizes, then bytes); it was the largest single cost of tracing under load, about an eighth of
/// the gateway's CPU. Here each attribute is sized and written in one go, a span is written once (by the
/// thread that ends it, `OTLPSpanExporter.enqueue`) and an export only puts the request's head before
/// the queued spans. The tests decode the output with the generated messages and compare it with the
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

    /// Writes the export request for a batch of encoded spans (`ScopeSpans.spans` fields, as
    /// `OTLPSpanQueue` holds them) into `body` (emptied first) and returns it.
    ///
    /// The body is kept from one export to the next: a gateway's batches run to megabytes, and new
    /// buffers of that size are fresh pages from the kernel each time (page faults and zeroing were a
    /// tenth of the exporter's CPU). The exporter lets it go after an export much smaller than its
    /// capacity, so memory returns to idle after a peak.
    func encode(_ spans: ArraySlice<UInt8>, into body: inout ByteBuffer) -> ByteBuffer {
        // ScopeSpans { scope = 1 { name = 1 }, spans = 2 … }
        var scope = ProtobufWriter()
        scope.string(1, scopeName)
        let scopeSpansLength = ProtobufWriter.fieldSize(length: scope.bytes.count) + spans.count
        // ResourceSpans { resource = 1, scope_spans = 2 }
        let resourceSpansLength = ProtobufWriter.fieldSize(length: resource.count) + ProtobufWriter.fieldSize(length: scopeSpansLength)
        var head = ProtobufWriter(capacity: 64 + resource.count + scope.bytes.count)
        head.lengthPrefix(1, resourceSpansLength)
        head.lengthPrefix(1, resource.count)
        head.bytes.append(contentsOf: resource)
        head.lengthPrefix(2, scopeSpansLength)
        head.lengthPrefix(1, scope.bytes.count)
        head.bytes.append(contentsOf: scope.bytes)

        body.clear(minimumCapacity: head.bytes.count + spans.count)
        body.writeBytes(head.bytes)
        body.writeBytes(spans)
        return body
    }

    /// Encodes ended spans and the request that carries them, as the exporter would (tests, tools).
    func encode(_ spans: [OTLPFinishedSpan]) -> ByteBuffer {
        var body = ByteBuffer()
        return encode(Self.entries(spans)[...], into: &body)
    }

    /// Ended spans as `ScopeSpans.spans` fields, as `OTLPSpanQueue` holds them (tests, tools).
    static func entries(_ spans: [OTLPFinishedSpan]) -> [UInt8] {
        var entries = ProtobufWriter()
        var message = ProtobufWriter()
        var nested = ProtobufWriter()
        for span in spans {
            entries.message(2, scratch: &message) { writer in writer.span(span, scratch: &nested) }
        }
        return entries.bytes
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
        bytes.append(contentsOf: span.encodedAttributes)
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
    /// The scalar shapes (nearly every attribute) are written from the value as it is, their tags, lengths
    /// and numbers gathered in `ProtobufHead`s.
    mutating func keyValue(_ field: Int, key: String, value: SpanAttribute) {
        var key = key
        key.withUTF8 { keyValue(field, key: UnsafeRawBufferPointer($0), value: value) }
    }

    /// The same with the key's UTF-8 at hand (`OTLPEncodedAttributes` has it already).
    mutating func keyValue(_ field: Int, key: UnsafeRawBufferPointer, value: SpanAttribute) {
        switch value {
        case .string(var text):
            text.withUTF8 { utf8 in
                var head = ProtobufHead()
                head.lengthPrefix(1, utf8.count)
                keyValueHead(field, key: key, valueSize: ProtobufWriter.fieldSize(length: utf8.count), then: head, UnsafeRawBufferPointer(utf8))
            }
        case .int64(let number):
            var head = ProtobufHead()
            head.uint(3, UInt64(bitPattern: number))
            keyValueHead(field, key: key, valueSize: head.count, then: head)
        case .double(let number):
            var head = ProtobufHead()
            head.fixed64(4, number.bitPattern)
            keyValueHead(field, key: key, valueSize: head.count, then: head)
        case .bool(let flag):
            var head = ProtobufHead()
            head.uint(2, flag ? 1 : 0)
            keyValueHead(field, key: key, valueSize: head.count, then: head)
        default:
            let value = value.encodable
            keyValueHead(field, key: key, valueSize: value.anyValueSize, then: ProtobufHead())
            anyValue(value)
        }
    }

    /// A `KeyValue`'s length, its key, the head of its value (`AnyValue`'s length), then `valueHead` (the
    /// value's own tag and length, or all of a number) and `valueBytes`. What fits in a `ProtobufHead`
    /// (every key Archway sets, and short strings) goes in one append.
    private mutating func keyValueHead(_ field: Int, key: UnsafeRawBufferPointer, valueSize: Int, then valueHead: ProtobufHead, _ valueBytes: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        var head = ProtobufHead()
        head.lengthPrefix(field, ProtobufWriter.fieldSize(length: key.count) + ProtobufWriter.fieldSize(length: valueSize))
        head.lengthPrefix(1, key.count)
        // The value's length takes at most eleven bytes (a tag and a ten-byte varint).
        if head.count + key.count + 11 + valueHead.count <= ProtobufHead.capacity {
            head.append(key)
            head.lengthPrefix(2, valueSize)
            head.append(valueHead)
            if !head.append(valueBytes) {
                append(head)
                bytes.append(contentsOf: valueBytes)
                return
            }
            append(head)
            return
        }
        append(head)
        bytes.append(contentsOf: key)
        var tail = ProtobufHead()
        tail.lengthPrefix(2, valueSize)
        append(tail)
        append(valueHead)
        bytes.append(contentsOf: valueBytes)
    }

    /// An `AnyValue`'s one field: string = 1, bool = 2, int = 3, double = 4, array = 5 (`ArrayValue` {
    /// values = 1 }). `value` is in one of `encodable`'s shapes.
    mutating func anyValue(_ value: SpanAttribute) {
        switch value {
        case .string(let text): string(1, text)
        case .bool(let flag): uint(2, flag ? 1 : 0)
        case .int64(let number): uint(3, UInt64(bitPattern: number))
        case .double(let number): fixed64(4, number.bitPattern)
        case .stringArray(let values):
            lengthPrefix(5, values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: SpanAttribute.stringSize($1)) })
            for element in values {
                lengthPrefix(1, SpanAttribute.stringSize(element))
                string(1, element)
            }
        case .int64Array(let values):
            lengthPrefix(5, values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: SpanAttribute.intSize($1)) })
            for element in values {
                lengthPrefix(1, SpanAttribute.intSize(element))
                uint(3, UInt64(bitPattern: element))
            }
        case .doubleArray(let values):
            lengthPrefix(5, values.count * ProtobufWriter.fieldSize(length: 9))
            for element in values {
                lengthPrefix(1, 9)
                fixed64(4, element.bitPattern)
            }
        case .boolArray(let values):
            lengthPrefix(5, values.count * ProtobufWriter.fieldSize(length: 2))
            for element in values {
                lengthPrefix(1, 2)
                uint(2, element ? 1 : 0)
            }
        default:
            // `encodable` leaves no other shape.
            string(1, "\(value)")
        }
    }
}

extension SpanAttribute {
    /// The value in the shapes `AnyValue` has: strings, 64-bit integers, doubles, booleans and arrays of
    /// those. The common shapes come back as they are (no copy, no allocation); the rest (32-bit numbers,
    /// string-convertible values, nested values) are converted once, so sizing and writing agree.
    var encodable: SpanAttribute {
        switch self {
        case .string, .int64, .double, .bool, .stringArray, .int64Array, .doubleArray, .boolArray: self
        case .int32(let number): .int64(Int64(number))
        case .int32Array(let values): .int64Array(values.map(Int64.init))
        case .stringConvertible(let value): .string(value.description)
        case .stringConvertibleArray(let values): .stringArray(values.map(\.description))
        default: .string("\(self)")
        }
    }

    /// The size of the `AnyValue` message holding an `encodable` value.
    var anyValueSize: Int {
        switch self {
        case .string(let text): Self.stringSize(text)
        case .bool: 2
        case .int64(let number): Self.intSize(number)
        case .double: 9
        case .stringArray(let values): ProtobufWriter.fieldSize(length: values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: Self.stringSize($1)) })
        case .int64Array(let values): ProtobufWriter.fieldSize(length: values.reduce(0) { $0 + ProtobufWriter.fieldSize(length: Self.intSize($1)) })
        case .doubleArray(let values): ProtobufWriter.fieldSize(length: values.count * ProtobufWriter.fieldSize(length: 9))
        case .boolArray(let values): ProtobufWriter.fieldSize(length: values.count * ProtobufWriter.fieldSize(length: 2))
        default: Self.stringSize("\(self)")
        }
    }

    static func stringSize(_ text: String) -> Int { ProtobufWriter.fieldSize(length: text.utf8.count) }
    static func intSize(_ number: Int64) -> Int { 1 + ProtobufWriter.varintSize(UInt64(bitPattern: number)) }
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
