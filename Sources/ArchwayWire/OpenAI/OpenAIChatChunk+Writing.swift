public import ArchwayCore
public import NIOCore

extension OpenAIChatChunk {
    /// Writes `chunk` as a `data:` stream event: the same JSON `Codable` makes of it (same keys, same
    /// order), written straight into the buffer. A translated stream writes one per token, and the
    /// encoder's boxes, dictionaries and intermediate `Data` cost ten times the bytes themselves.
    public static func writeEvent(_ chunk: ChatChunk, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("data: ")
        write(chunk, into: &buffer)
        buffer.writeStaticString("\n\n")
    }

    /// Writes `chunk`'s JSON.
    public static func write(_ chunk: ChatChunk, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"id":"#)
        buffer.writeJSONString(chunk.id)
        buffer.writeStaticString(#","object":"chat.completion.chunk","created":"#)
        buffer.writeJSONInteger(chunk.created)
        buffer.writeStaticString(#","model":"#)
        buffer.writeJSONString(chunk.model)
        buffer.writeStaticString(#","choices":["#)
        for (position, choice) in chunk.choices.enumerated() {
            if position > 0 { buffer.writeStaticString(",") }
            write(choice, into: &buffer)
        }
        buffer.writeStaticString("]")
        if let usage = chunk.usage {
            buffer.writeStaticString(#","usage":"#)
            writeUsage(usage, into: &buffer)
        }
        if let fingerprint = chunk.systemFingerprint {
            buffer.writeStaticString(#","system_fingerprint":"#)
            buffer.writeJSONString(fingerprint)
        }
        buffer.writeStaticString("}")
    }

    private static func write(_ choice: ChatChunk.Choice, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"index":"#)
        buffer.writeJSONInteger(choice.index)
        buffer.writeStaticString(#","delta":{"#)
        var separator = false
        if let role = choice.role {
            buffer.writeStaticString(#""role":"#)
            buffer.writeJSONString(role.rawValue)
            separator = true
        }
        if let content = choice.content {
            if separator { buffer.writeStaticString(",") }
            buffer.writeStaticString(#""content":"#)
            buffer.writeJSONString(content)
            separator = true
        }
        if !choice.toolCalls.isEmpty {
            if separator { buffer.writeStaticString(",") }
            buffer.writeStaticString(#""tool_calls":["#)
            for (position, call) in choice.toolCalls.enumerated() {
                if position > 0 { buffer.writeStaticString(",") }
                buffer.writeStaticString(#"{"index":"#)
                buffer.writeJSONInteger(call.index)
                if let id = call.id {
                    buffer.writeStaticString(#","id":"#)
                    buffer.writeJSONString(id)
                    buffer.writeStaticString(#","type":"function""#)
                }
                buffer.writeStaticString(#","function":{"#)
                if let name = call.name {
                    buffer.writeStaticString(#""name":"#)
                    buffer.writeJSONString(name)
                }
                if let arguments = call.arguments {
                    if call.name != nil { buffer.writeStaticString(",") }
                    buffer.writeStaticString(#""arguments":"#)
                    buffer.writeJSONString(arguments)
                }
                buffer.writeStaticString("}}")
            }
            buffer.writeStaticString("]")
        }
        buffer.writeStaticString(#"},"finish_reason":"#)
        if let reason = choice.finishReason {
            buffer.writeJSONString(reason.rawValue)
        } else {
            buffer.writeStaticString("null")
        }
        buffer.writeStaticString("}")
    }

    /// OpenAI's `usage` object, as `OpenAIUsage` encodes it.
    static func writeUsage(_ usage: Usage, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"prompt_tokens":"#)
        buffer.writeJSONInteger(usage.inputTokens)
        buffer.writeStaticString(#","completion_tokens":"#)
        buffer.writeJSONInteger(usage.outputTokens)
        buffer.writeStaticString(#","total_tokens":"#)
        buffer.writeJSONInteger(usage.totalTokens)
        if let cached = usage.cacheReadTokens {
            buffer.writeStaticString(#","prompt_tokens_details":{"cached_tokens":"#)
            buffer.writeJSONInteger(cached)
            buffer.writeStaticString("}")
        }
        if let reasoning = usage.reasoningTokens {
            buffer.writeStaticString(#","completion_tokens_details":{"reasoning_tokens":"#)
            buffer.writeJSONInteger(reasoning)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("}")
    }
}
