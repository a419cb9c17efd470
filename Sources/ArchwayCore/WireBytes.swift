public import NIOCore

/// The wire bytes a canonical value was read from, kept so a peer speaking the same wire (OpenAI to
/// OpenAI, Anthropic to Anthropic) gets them as they came instead of a re-encoding: fields Archway does
/// not model survive (Anthropic's `cache_control`, `thinking`, …), and no JSON is written. They only
/// ever travel inside a `Relayable`, which drops them when the value's content changes.
public struct WireBytes: Sendable, Hashable {
    /// The wire the bytes are written in.
    public enum Format: Sendable, Hashable {
        case openAI
        case anthropic
    }

    public var bytes: ByteBuffer
    public var format: Format
    /// The client's `anthropic-beta` header: on the Anthropic wire, part of what the request says (a
    /// beta's fields mean nothing without it), so it travels with the bytes.
    public var anthropicBeta: String?
    /// Byte ranges of the top-level `model` values, relative to the readable bytes: the model name is
    /// rewritten on the way out (responses carry the client's model name).
    public var modelRanges: [Range<Int>]
    /// Byte range of the top-level `usage` value, for a chunk whose usage the client did not ask for.
    public var usageRange: Range<Int>?

    public init(bytes: ByteBuffer, format: Format = .openAI, modelRanges: [Range<Int>] = [], usageRange: Range<Int>? = nil) {
        self.bytes = bytes
        self.format = format
        self.modelRanges = modelRanges
        self.usageRange = usageRange
    }
}
