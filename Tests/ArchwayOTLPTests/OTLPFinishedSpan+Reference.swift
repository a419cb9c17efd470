@testable import ArchwayOTLP
import Foundation
import Tracing
import W3CTraceContext

/// The reference the direct encoder (`OTLPTraceEncoding`) is checked against: the same spans built as the
/// generated swift-protobuf messages.
extension OTLPFinishedSpan {
    var referenceProto: Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = context.traceID.data
        span.spanID = context.spanID.data
        if let parent = context.parentSpanID { span.parentSpanID = parent.data }
        if !context.state.isEmpty, let state = TraceContext(traceID: context.traceID, spanID: context.spanID, flags: context.flags, state: context.state).traceStateHeaderValue {
            span.traceState = state
        }
        span.flags = UInt32(context.flags.rawValue) | 0x100 | (context.parentIsRemote ? 0x200 : 0)
        span.name = name
        span.kind = kind.referenceProto
        span.startTimeUnixNano = startNanoseconds
        span.endTimeUnixNano = endNanoseconds
        span.attributes = attributes.referenceProto
        span.events = events.map { event in
            var proto = Opentelemetry_Proto_Trace_V1_Span.Event()
            proto.name = event.name
            proto.timeUnixNano = event.nanosecondsSinceEpoch
            proto.attributes = event.attributes.referenceProto
            return proto
        }
        span.links = links.compactMap { link in
            guard let linked = link.context.otlpSpanContext else { return nil }
            var proto = Opentelemetry_Proto_Trace_V1_Span.Link()
            proto.traceID = linked.traceID.data
            proto.spanID = linked.spanID.data
            proto.flags = UInt32(linked.flags.rawValue) | 0x100 | (linked.isRemote ? 0x200 : 0)
            proto.attributes = link.attributes.referenceProto
            return proto
        }
        if let status {
            span.status.code = status.code == .ok ? .ok : .error
            if status.code == .error, let message = status.message { span.status.message = message }
        }
        return span
    }
}

extension SpanKind {
    var referenceProto: Opentelemetry_Proto_Trace_V1_Span.SpanKind {
        switch self {
        case .server: .server
        case .client: .client
        case .producer: .producer
        case .consumer: .consumer
        case .internal: .internal
        }
    }
}

extension TraceID {
    var data: Data { withUnsafeBytes(of: bytes) { Data($0) } }
}

extension SpanID {
    var data: Data { withUnsafeBytes(of: bytes) { Data($0) } }
}

extension SpanAttributes {
    /// Key-value pairs in key order.
    var referenceProto: [Opentelemetry_Proto_Common_V1_KeyValue] {
        var pairs: [Opentelemetry_Proto_Common_V1_KeyValue] = []
        pairs.reserveCapacity(count)
        forEach { key, value in
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value = value.referenceProto
            pairs.append(pair)
        }
        pairs.sort { $0.key < $1.key }
        return pairs
    }
}

extension SpanAttribute {
    var referenceProto: Opentelemetry_Proto_Common_V1_AnyValue {
        var any = Opentelemetry_Proto_Common_V1_AnyValue()
        switch self {
        case .int32(let value): any.intValue = Int64(value)
        case .int64(let value): any.intValue = value
        case .double(let value): any.doubleValue = value
        case .bool(let value): any.boolValue = value
        case .string(let value): any.stringValue = value
        case .stringConvertible(let value): any.stringValue = value.description
        case .int32Array(let values): any.arrayValue = .init(values.map { .init(int: Int64($0)) })
        case .int64Array(let values): any.arrayValue = .init(values.map { .init(int: $0) })
        case .doubleArray(let values): any.arrayValue = .init(values.map { .init(double: $0) })
        case .boolArray(let values): any.arrayValue = .init(values.map { .init(bool: $0) })
        case .stringArray(let values): any.arrayValue = .init(values.map { .init(string: $0) })
        case .stringConvertibleArray(let values): any.arrayValue = .init(values.map { .init(string: $0.description) })
        default: any.stringValue = "\(self)"
        }
        return any
    }
}

extension Opentelemetry_Proto_Common_V1_AnyValue {
    init(int: Int64) { self.init(); intValue = int }
    init(double: Double) { self.init(); doubleValue = double }
    init(bool: Bool) { self.init(); boolValue = bool }
    init(string: String) { self.init(); stringValue = string }
}

extension Opentelemetry_Proto_Common_V1_ArrayValue {
    init(_ values: [Opentelemetry_Proto_Common_V1_AnyValue]) { self.init(); self.values = values }
}
