import ArchwayCore

extension SimulatedCompletion {
    /// One chunk of a simulated stream. Token steps are paced by the tokens-per-second setting and
    /// counted by `x-simulator-break-after`.
    struct StreamStep: Sendable {
        var chunk: ChatChunk
        var isToken: Bool
    }

    /// The stream as canonical chunks: a role chunk, the tokens, the finishing chunk, and optionally a
    /// usage chunk without choices (the OpenAI `include_usage` convention).
    ///
    /// - Parameters:
    ///   - usageOnFirstChunk: carry the input tokens on the role chunk (Anthropic's `message_start` reports them).
    ///   - usageChunk: end with the usage chunk.
    func streamSteps(id: String, model: String, created: Int, usageOnFirstChunk: Bool, usageChunk: Bool) -> [StreamStep] {
        func chunk(_ choices: [ChatChunk.Choice], usage: Usage? = nil) -> ChatChunk {
            ChatChunk(id: id, model: model, created: created, choices: choices, usage: usage)
        }
        let firstUsage = usageOnFirstChunk ? Usage(inputTokens: usage.inputTokens, outputTokens: 0) : nil
        var steps: [StreamStep] = []
        switch output {
        case .text(let pieces):
            steps.append(StreamStep(chunk: chunk([ChatChunk.Choice(role: .assistant, content: "")], usage: firstUsage), isToken: false))
            for piece in pieces {
                steps.append(StreamStep(chunk: chunk([ChatChunk.Choice(content: piece)]), isToken: true))
            }
        case .toolCall(let call):
            // As OpenAI does: id and name first with empty arguments, then the arguments in pieces.
            let opening = ChatChunk.ToolCallDelta(index: 0, id: call.id, name: call.name, arguments: "")
            steps.append(StreamStep(chunk: chunk([ChatChunk.Choice(role: .assistant, toolCalls: [opening])], usage: firstUsage), isToken: false))
            let middle = call.arguments.index(call.arguments.startIndex, offsetBy: call.arguments.count / 2)
            for piece in [call.arguments[..<middle], call.arguments[middle...]] where !piece.isEmpty {
                let delta = ChatChunk.ToolCallDelta(index: 0, arguments: String(piece))
                steps.append(StreamStep(chunk: chunk([ChatChunk.Choice(toolCalls: [delta])]), isToken: true))
            }
        }
        steps.append(StreamStep(chunk: chunk([ChatChunk.Choice(finishReason: finishReason, stopSequence: stopSequence)]), isToken: false))
        if usageChunk {
            steps.append(StreamStep(chunk: chunk([], usage: usage), isToken: false))
        }
        return steps
    }
}
