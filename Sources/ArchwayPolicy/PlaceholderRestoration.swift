public import ArchwayCore
public import ArchwayExecution

/// Turns a redaction's placeholders back into the client's values in the answer: message text and
/// tool-call arguments, whole or streamed (where a placeholder may be split across any chunks).
public struct PlaceholderRestoration: AnswerTransform {
    /// Built once from the session's placeholders (as bytes); each text and stream gets a copy.
    let restorer: StreamRestorer
    /// The same for tool-call arguments: values escaped for the JSON strings they go back into.
    let argumentRestorer: StreamRestorer

    /// - Parameter contentIsJSON: the request asked for a JSON answer (`response_format` `json_object` or
    ///   `json_schema`): its values go back into JSON strings, escaped, as tool-call arguments' do.
    public init(session: RedactionSession, contentIsJSON: Bool = false) {
        self.argumentRestorer = session.streamRestorer(insideJSONStrings: true)
        self.restorer = contentIsJSON ? argumentRestorer : session.streamRestorer()
    }

    public func transform(_ response: ChatResponse) -> ChatResponse {
        var response = response
        for index in response.choices.indices {
            var message = response.choices[index].message
            message.content = message.content.map { part in
                if case .text(let text) = part { return .text(restorer.restoring(text)) }
                return part
            }
            for call in message.toolCalls.indices {
                message.toolCalls[call].arguments = argumentRestorer.restoring(message.toolCalls[call].arguments)
            }
            response.choices[index].message = message
        }
        return response
    }

    public func chunkTransformer() -> any ChunkTransformer {
        StreamPlaceholderRestorer(restorer: restorer, argumentRestorer: argumentRestorer)
    }
}

/// One stream's restorers: one per choice's text and per tool call's arguments.
struct StreamPlaceholderRestorer: ChunkTransformer {
    /// Fresh restorers, copied for each choice's text and each tool call's arguments.
    let restorer: StreamRestorer
    let argumentRestorer: StreamRestorer
    var content: [Int: StreamRestorer] = [:]
    var arguments: [Int: [Int: StreamRestorer]] = [:]
    var last: (id: String, model: String, created: Int)?

    init(restorer: StreamRestorer, argumentRestorer: StreamRestorer) {
        self.restorer = restorer
        self.argumentRestorer = argumentRestorer
    }

    mutating func transform(_ chunk: ChatChunk) -> ChatChunk {
        var chunk = chunk
        last = (chunk.id, chunk.model, chunk.created)
        for index in chunk.choices.indices {
            let choice = chunk.choices[index].index
            var restorer = content[choice] ?? self.restorer
            var text = restorer.feed(chunk.choices[index].content ?? "")
            // A tool call that starts (its first delta names it) ends the text before it: what was held
            // back as a possible placeholder goes out now, ahead of the call, as it would in the whole
            // answer (an Anthropic stream would otherwise put it in a text block after the tool's).
            if chunk.choices[index].toolCalls.contains(where: { $0.id != nil || $0.name != nil }) { text += restorer.finish() }
            for delta in chunk.choices[index].toolCalls.indices {
                let call = chunk.choices[index].toolCalls[delta].index
                var argumentRestorer = arguments[choice]?[call] ?? self.argumentRestorer
                var restored = argumentRestorer.feed(chunk.choices[index].toolCalls[delta].arguments ?? "")
                if chunk.choices[index].finishReason != nil { restored += argumentRestorer.finish() }
                chunk.choices[index].toolCalls[delta].arguments = restored
                arguments[choice, default: [:]][call] = argumentRestorer
            }
            if chunk.choices[index].finishReason != nil {
                // The answer ends here: nothing may stay held back.
                text += restorer.finish()
                for (call, var argumentRestorer) in arguments[choice] ?? [:] {
                    let rest = argumentRestorer.finish()
                    if !rest.isEmpty {
                        chunk.choices[index].toolCalls.append(ChatChunk.ToolCallDelta(index: call, id: nil, name: nil, arguments: rest))
                    }
                    arguments[choice]?[call] = argumentRestorer
                }
            }
            chunk.choices[index].content = text.isEmpty && chunk.choices[index].content == nil ? nil : text
            content[choice] = restorer
        }
        return chunk
    }

    mutating func finish() -> ChatChunk? {
        var choices: [ChatChunk.Choice] = []
        for choice in content.keys.sorted() {
            guard var restorer = content[choice] else { continue }
            let rest = restorer.finish()
            content[choice] = restorer
            if !rest.isEmpty { choices.append(ChatChunk.Choice(index: choice, content: rest)) }
        }
        guard !choices.isEmpty, let last else { return nil }
        return ChatChunk(id: last.id, model: last.model, created: last.created, choices: choices)
    }
}
