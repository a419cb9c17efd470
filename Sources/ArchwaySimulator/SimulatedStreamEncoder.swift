import ArchwayCore
import NIOCore

/// Writes canonical chunks in one wire's stream format. Stateful (Anthropic numbers its blocks),
/// hence `mutating`.
protocol SimulatedStreamEncoder: Sendable {
    mutating func encode(_ chunk: ChatChunk, into buffer: inout ByteBuffer) throws
    /// The events that close a complete stream.
    mutating func finish(into buffer: inout ByteBuffer) throws
}
