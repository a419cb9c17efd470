public import Tracing

/// What `Span.setInitialAttributes` and `Span.modifyAttributes` hand their closure: typed setters that
/// write into the span's `SpanAttributes`, or straight into a span that encodes attributes as they are set
/// (`AttributeEncodingSpan`, the executable's `OTLPSpan`). A nil value sets nothing.
///
/// Why not `inout SpanAttributes`: a dictionary hashes every key on the way in, stores each value as an
/// enum and is walked again to be encoded when the span ends; a gateway sets some forty attributes a
/// request, and that was a fifth of what recording them cost. And why typed setters: `attributes[name] =
/// value` takes a `SpanAttributeConvertible` existential and converts it through dynamic casts (arrays try
/// every element type); these make the `SpanAttribute` directly.
public struct SpanAttributeWriter {
    /// The attributes being written, when the span keeps a dictionary.
    @usableFromInline var attributes: SpanAttributes
    /// The span the attributes go to as they are set; nil: into `attributes`.
    @usableFromInline let span: (any AttributeEncodingSpan)?

    @inlinable
    init(attributes: SpanAttributes) {
        self.attributes = attributes
        self.span = nil
    }

    /// A writer for `span`, handed out by its `writeAttributes` (which holds the span's lock while it is
    /// used; nothing outside this package can make one).
    @inlinable
    package init(encodingInto span: any AttributeEncodingSpan) {
        self.attributes = SpanAttributes()
        self.span = span
    }

    @inlinable
    public mutating func set(_ name: String, value: SpanAttribute) {
        if let span {
            span.appendAttribute(name, value)
        } else {
            attributes.set(name, value: value)
        }
    }

    @inlinable
    public mutating func set(_ name: String, _ value: String?) {
        if let value { set(name, value: .string(value)) }
    }

    @inlinable
    public mutating func set(_ name: String, _ value: Int?) {
        if let value { set(name, value: .int64(Int64(value))) }
    }

    @inlinable
    public mutating func set(_ name: String, _ value: Double?) {
        if let value { set(name, value: .double(value)) }
    }

    @inlinable
    public mutating func set(_ name: String, _ value: Bool?) {
        if let value { set(name, value: .bool(value)) }
    }

    @inlinable
    public mutating func set(_ name: String, _ value: [String]?) {
        if let value { set(name, value: .stringArray(value)) }
    }
}

/// A span that encodes attributes as they are set, without a `SpanAttributes` dictionary (`OTLPSpan`). It
/// still answers `attributes` in full; this is the fast way in for `SpanAttributeWriter`, within this
/// package only: `appendAttribute` relies on the lock `writeAttributes` holds.
@usableFromInline
package protocol AttributeEncodingSpan: AnyObject, Sendable {
    /// Runs `write` with a writer into the span (under the span's lock), unless the span records nothing
    /// (not sampled, or ended). `replacing` drops the attributes it has first; `capacity` is how many
    /// attributes to make room for (0: no guess).
    func writeAttributes(replacing: Bool, capacity: Int, _ write: (inout SpanAttributeWriter) -> Void)

    /// Sets one attribute. Only `SpanAttributeWriter` calls it, inside `writeAttributes`, where the span's
    /// lock is held.
    func appendAttribute(_ name: String, _ value: SpanAttribute)
}
