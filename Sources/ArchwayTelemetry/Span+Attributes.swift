public import Tracing

extension Span {
    /// Sets a new span's attributes in one dictionary built to size. `updateAttributes` reads the span's
    /// dictionary, changes a copy and writes it back: a copy per call, and a few regrowths for an empty
    /// one. This is for spans that have no attributes yet; it replaces any they have.
    @inlinable
    public func setInitialAttributes(capacity: Int, _ build: (inout SpanAttributes) -> Void) {
        var attributes = SpanAttributes()
        attributes.reserveCapacity(capacity)
        build(&attributes)
        self.attributes = attributes
    }

    /// Changes the span's attributes in place, through the `attributes` modify accessor.
    /// `updateAttributes` reads a copy and writes it back: the span's dictionary is shared while the
    /// change runs, so the first change copies it whole (an allocation and a rehash of every entry).
    @inlinable
    public func modifyAttributes(_ change: (inout SpanAttributes) -> Void) {
        change(&self.attributes)
    }
}

extension SpanAttributes {
    // Typed setters: `attributes[name] = value` takes a `SpanAttributeConvertible` existential and converts
    // it through dynamic casts (arrays try every element type); these store the `SpanAttribute` directly.
    // A nil value sets nothing.

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
