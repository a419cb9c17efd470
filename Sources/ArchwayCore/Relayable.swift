/// A request, answer or stream chunk with the OpenAI-wire bytes it was read from, while those bytes
/// still say exactly what the value says (the OpenAI-to-OpenAI byte relay).
///
/// The value can only be changed through `rewrite`, which drops the bytes: a stage that redacts a
/// prompt or edits an answer cannot leave the original bytes to be sent by mistake. Only the model name
/// is rewritten on the bytes themselves, on the way out.
@dynamicMemberLookup
public struct Relayable<Value: Sendable>: Sendable {
    public private(set) var value: Value
    /// The bytes to relay instead of encoding `value`; nil once anything rewrote it (or when it was
    /// never read from the OpenAI wire). When present, a response's or chunk's `value` may carry only
    /// what telemetry needs (ids, usage, finish reasons), the text staying in the bytes.
    public private(set) var wire: WireBytes?

    public init(_ value: Value, wire: WireBytes? = nil) {
        self.value = value
        self.wire = wire
    }

    /// Reads through to the value (`answer.id`, `chunk.usage`); writes go through `rewrite`.
    public subscript<Property>(dynamicMember keyPath: KeyPath<Value, Property>) -> Property {
        value[keyPath: keyPath]
    }

    /// Changes the value. The bytes no longer say the same thing, so they are dropped.
    public mutating func rewrite(_ change: (inout Value) throws -> Void) rethrows {
        try change(&value)
        wire = nil
    }

    /// The value alone, its bytes dropped (a peer that needs it encoded anew).
    public func droppingWire() -> Relayable {
        Relayable(value)
    }
}

extension Relayable where Value == ChatResponse {
    /// Names the answer after the model the client knows; the bytes keep their ranges of `model`,
    /// which the writer fills with this name on the way out.
    public mutating func rename(model: String) {
        value.model = model
    }
}

extension Relayable where Value == ChatChunk {
    public mutating func rename(model: String) {
        value.model = model
    }
}
