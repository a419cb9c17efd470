import ArchwayCore
import ArchwayWire
import NIOCore

/// The OpenAI chat stream: `data: {chunk}` events closed by `data: [DONE]`.
struct OpenAIStreamEncoding: SimulatedStreamEncoder {
    mutating func encode(_ chunk: ChatChunk, into buffer: inout ByteBuffer) throws {
        OpenAIChatChunk.writeEvent(chunk, into: &buffer)
    }

    mutating func finish(into buffer: inout ByteBuffer) throws {
        buffer.writeStaticString("data: [DONE]\n\n")
    }
}
