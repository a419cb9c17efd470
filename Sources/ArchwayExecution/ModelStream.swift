public import ArchwayCore
public import ArchwayProviders

/// The chunks of a streamed model call, which owns the call's lifetime: each chunk is folded into the
/// call's outcome as it passes, and the GenAI and HTTP spans end exactly once, whether the reader gets
/// to the end, the upstream breaks, the reader stops (`abandon()`), or the stream is released unread
/// (a client that hung up before the response body started).
public struct ModelStream: AsyncSequence, Sendable {
    public typealias Element = Relayable<ChatChunk>

    enum Source: Sendable {
        case upstream(ChatChunkStream, StreamCall)
        /// A stage answered instead of a model: the answer as chunks, no model call.
        case answered([ChatChunk])
    }

    let source: Source
    /// The client-facing model name the chunks carry.
    public let model: String
    /// Stages' transforms of the answer (placeholders restored), applied to each chunk in order.
    let transformers: [any ChunkTransformer]

    init(upstream: ChatChunkStream, call: StreamCall, model: String, transformers: [any ChunkTransformer] = []) {
        self.source = .upstream(upstream, call)
        self.model = model
        self.transformers = transformers
    }

    public init(answered response: ChatResponse, model: String) {
        self.source = .answered(ChatChunk.chunks(of: response, model: model))
        self.model = model
        self.transformers = []
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .upstream(let stream, let call): AsyncIterator(upstream: stream.makeAsyncIterator(), call: call, model: model, transformers: transformers)
        case .answered(let chunks): AsyncIterator(answered: chunks, model: model)
        }
    }

    /// Ends the call because its reader stopped reading: the client went away, or the gateway cut the
    /// request (shutdown), as the call's cancellation cause says. Idempotent; a stream that ended already
    /// is left as it ended.
    public func abandon() {
        if case .upstream(_, let call) = source { call.cancel() }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var upstream: ChatChunkStream.AsyncIterator?
        let call: StreamCall?
        var answered: IndexingIterator<[ChatChunk]>?
        let model: String
        var transformers: [any ChunkTransformer] = []
        /// What the transformers still held when the upstream ended, still to be read (nil before then).
        var tail: [ChatChunk]?

        init(upstream: ChatChunkStream.AsyncIterator, call: StreamCall, model: String, transformers: [any ChunkTransformer]) {
            self.upstream = upstream
            self.call = call
            self.model = model
            self.transformers = transformers
        }

        init(answered: [ChatChunk], model: String) {
            self.call = nil
            self.answered = answered.makeIterator()
            self.model = model
        }

        public mutating func next() async throws -> Relayable<ChatChunk>? {
            guard let call else { return answered?.next().map { Relayable($0) } }
            do {
                guard var chunk = try await upstream?.next() else {
                    upstream = nil
                    call.finish(error: nil)
                    return finishTransformers()
                }
                // The outcome (and captured content) see the chunk as the model sent it.
                call.observe(chunk.value)
                if !transformers.isEmpty {
                    var value = chunk.value
                    for index in transformers.indices { value = transformers[index].transform(value) }
                    chunk.rewrite { $0 = value }
                }
                chunk.rename(model: model)
                return chunk
            } catch {
                upstream = nil
                if error is CancellationError || Task.isCancelled {
                    call.cancel()
                    throw CancellationError()
                }
                let failure = GatewayError(error)
                call.finish(error: failure)
                throw failure
            }
        }
    }
}

extension ModelStream.AsyncIterator {
    /// Text the transformers still held when the upstream ended without a finish reason, as last chunks:
    /// each transformer's tail goes through the transformers after it, as any chunk does.
    mutating func finishTransformers() -> Relayable<ChatChunk>? {
        if tail == nil {
            var chunks: [ChatChunk] = []
            for index in transformers.indices {
                chunks = chunks.map { transformers[index].transform($0) }
                if let held = transformers[index].finish() { chunks.append(held) }
            }
            tail = chunks
        }
        guard var chunk = tail?.first else { return nil }
        tail?.removeFirst()
        chunk.model = model
        return Relayable(chunk)
    }
}

extension ChatChunk {
    /// A complete answer as stream chunks (content, finish, usage), for an answer no model streamed.
    static func chunks(of response: ChatResponse, model: String) -> [ChatChunk] {
        var chunks: [ChatChunk] = []
        for choice in response.choices {
            var text = ""
            for part in choice.message.content {
                if case .text(let value) = part { text += value }
            }
            let toolCalls = choice.message.toolCalls.enumerated().map { index, call in
                ChatChunk.ToolCallDelta(index: index, id: call.id, name: call.name, arguments: call.arguments)
            }
            chunks.append(ChatChunk(id: response.id, model: model, created: response.created, choices: [
                .init(index: choice.index, role: .assistant, content: text, toolCalls: toolCalls),
            ]))
            chunks.append(ChatChunk(id: response.id, model: model, created: response.created, choices: [
                .init(index: choice.index, finishReason: choice.finishReason ?? .stop),
            ]))
        }
        if let usage = response.usage {
            chunks.append(ChatChunk(id: response.id, model: model, created: response.created, choices: [], usage: usage))
        }
        return chunks
    }
}
