public import NIOCore

/// The OpenAI-wire bytes a canonical value was read from, kept so an OpenAI-wire peer gets them as they
/// came instead of a re-encoding: fields Archway does not model survive, and no JSON is written.
/// They only ever travel inside a `Relayable`, which drops them when the value's content changes.
public struct OpenAIWireBytes: Sendable, Hashable {
    public var bytes: ByteBuffer
    /// Byte ranges of the top-level `model` values, relative to the readable bytes: the model name is
    /// rewritten on the way out (responses carry the client's model name).
    public var modelRanges: [Range<Int>]
    /// Byte range of the top-level `usage` value, for a chunk whose usage the client did not ask for.
    public var usageRange: Range<Int>?

    public init(bytes: ByteBuffer, modelRanges: [Range<Int>] = [], usageRange: Range<Int>? = nil) {
        self.bytes = bytes
        self.modelRanges = modelRanges
        self.usageRange = usageRange
    }
}
