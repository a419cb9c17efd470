public import Tracing

extension Span {
    /// Sets a new span's attributes, replacing any it has; nothing, and `build` does not run, when the span
    /// records nothing. Into a span that encodes attributes as they are set (`AttributeEncodingSpan`) they
    /// go one by one; otherwise into one dictionary built to size
    /// (`updateAttributes` reads the span's dictionary, changes a copy and writes it back: a copy per
    /// call, and a few regrowths for an empty one).
    @inlinable
    public func setInitialAttributes(capacity: Int, _ build: (inout SpanAttributeWriter) -> Void) {
        if let span = self as? any AttributeEncodingSpan {
            span.writeAttributes(replacing: true, capacity: capacity, build)
            return
        }
        // A span that records nothing drops attributes (`NoOpSpan` with telemetry off): skip building them.
        guard isRecording else { return }
        var attributes = SpanAttributes()
        attributes.reserveCapacity(capacity)
        var writer = SpanAttributeWriter(attributes: attributes)
        build(&writer)
        self.attributes = writer.attributes
    }

    /// Changes the span's attributes in place (nothing when the span records nothing): straight into a
    /// span that encodes them as they are set, or
    /// through the `attributes` modify accessor (`updateAttributes` reads a copy and writes it back, so
    /// the first change copies the dictionary whole).
    @inlinable
    public func modifyAttributes(_ change: (inout SpanAttributeWriter) -> Void) {
        if let span = self as? any AttributeEncodingSpan {
            span.writeAttributes(replacing: false, capacity: 0, change)
            return
        }
        guard isRecording else { return }
        Self.change(&self.attributes, change)
    }

    /// Lends `attributes` to a writer and takes them back, without a copy.
    @inlinable
    static func change(_ attributes: inout SpanAttributes, _ change: (inout SpanAttributeWriter) -> Void) {
        var writer = SpanAttributeWriter(attributes: SpanAttributes())
        swap(&writer.attributes, &attributes)
        change(&writer)
        swap(&writer.attributes, &attributes)
    }
}
