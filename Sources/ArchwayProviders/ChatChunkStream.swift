public import ArchwayCore
import ArchwayWire
import NIOCore

/// The chunks of an upstream chat stream, decoded as the bytes arrive (no buffering, no extra task).
///
/// Ends normally only after the provider's own end marker (`[DONE]` or `message_stop`); a body that
/// ends without it throws `stream_interrupted`, so a broken stream never looks like a clean finish.
public struct ChatChunkStream: AsyncSequence, Sendable {
    /// A chunk, with the upstream's bytes when they are to be relayed to an OpenAI-wire client.
    public typealias Element = Relayable<ChatChunk>

    enum Format: Sendable {
        case openAI
        /// OpenAI events relayed as bytes to an OpenAI-wire client: read for telemetry, not decoded.
        case openAIPassthrough
        case anthropic
        /// Anthropic events relayed as bytes to an Anthropic-wire client: decoded for telemetry, each
        /// event (those telemetry skips too) carried with its bytes.
        case anthropicPassthrough
    }

    let body: UpstreamResponseBody
    let format: Format
    let provider: String
    /// The provider's credentials, scrubbed from the error events it sends.
    let secrets: [String]
    /// The iterator that already read the first chunk (`prefetchingFirstChunk`), to go on from.
    private let prefetched: Prefetched?

    init(body: UpstreamResponseBody, format: Format, provider: String, secrets: [String] = []) {
        self.body = body
        self.format = format
        self.provider = provider
        self.secrets = secrets
        self.prefetched = nil
    }

    private init(_ stream: ChatChunkStream, prefetched: Prefetched) {
        self.body = stream.body
        self.format = stream.format
        self.provider = stream.provider
        self.secrets = stream.secrets
        self.prefetched = prefetched
    }

    public func makeAsyncIterator() -> AsyncIterator {
        if let prefetched { return prefetched.iterator }
        return AsyncIterator(bytes: body.makeAsyncIterator(), format: format, provider: provider, secrets: secrets)
    }

    /// Reads the stream up to its first chunk with content now (text, a tool call or a finish; what comes
    /// before it, such as Anthropic's `message_start` and `ping` or OpenAI's role-only chunk, is held, at
    /// most `heldEvents` of them), and returns a stream that yields what it read first. A stream that
    /// breaks before that (an error event after the 200, as Anthropic reports overload, or a body that
    /// ends) then fails as its call does, before anything reached the client, so another attempt or model
    /// can answer instead; once content came, the stream is the client's.
    public func prefetchingFirstChunk() async throws -> ChatChunkStream {
        var iterator = makeAsyncIterator()
        var read: [Relayable<ChatChunk>] = []
        // Events the client is never sent (a decoded Anthropic stream's thinking, `ping`) count too: a
        // model that thinks for minutes must not hold the client's headers for as long.
        iterator.reportsSkipped = true
        var events = 0
        while events < Self.heldEvents {
            guard let chunk = try await iterator.next() else {
                iterator.endAfterPending = true
                break
            }
            events += 1
            if chunk.wire == nil, chunk.value.id == Self.skippedMarker.id { continue }
            read.append(chunk)
            if chunk.value.hasContent { break }
        }
        iterator.reportsSkipped = false
        iterator.pending = read
        return ChatChunkStream(self, prefetched: Prefetched(iterator: iterator))
    }

    /// Content-free events held before the first content (a model that thinks at length streams its
    /// thinking as such events: past these, the stream is the client's anyway).
    static let heldEvents = 32

    /// Stands, while the stream is read ahead, for an event the client is not sent; never leaves it.
    static let skippedMarker = ChatChunk(id: "archway.skipped-event", model: "", created: 0, choices: [])

    /// Handed once from the task that made the call to the one that reads the stream, never shared, and
    /// read by one iterator: the single owner the `@unchecked` stands for.
    private final class Prefetched: @unchecked Sendable {
        let iterator: AsyncIterator

        init(iterator: AsyncIterator) {
            self.iterator = iterator
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var bytes: UpstreamResponseBody.AsyncIterator
        let format: Format
        let provider: String
        let secrets: [String]
        var parser = SSEParser()
        var anthropic = AnthropicStreamDecoder()
        var state = State.streaming
        /// What `prefetchingFirstChunk` read, returned first.
        var pending: [Relayable<ChatChunk>] = []
        var pendingIndex = 0
        /// The stream ended cleanly while being read ahead: nothing more to read.
        var endAfterPending = false
        /// While read ahead, an event the client is not sent is reported (`skippedMarker`), to be counted.
        var reportsSkipped = false

        enum State {
            case streaming
            case sendUsage
            case done
        }

        init(bytes: UpstreamResponseBody.AsyncIterator, format: Format, provider: String, secrets: [String]) {
            self.bytes = bytes
            self.format = format
            self.provider = provider
            self.secrets = secrets
        }

        public mutating func next() async throws -> Relayable<ChatChunk>? {
            if pendingIndex < pending.count {
                defer {
                    pendingIndex += 1
                    if pendingIndex == pending.count { pending = [] }
                }
                return pending[pendingIndex]
            }
            if endAfterPending { return nil }
            while true {
                switch state {
                case .done:
                    return nil
                case .sendUsage:
                    state = .done
                    return Relayable(anthropic.usageChunk)
                case .streaming:
                    break
                }
                if let event = parser.nextRawEvent() {
                    if let chunk = try handle(event) { return chunk }
                    continue
                }
                let buffer: ByteBuffer?
                do {
                    buffer = try await bytes.next()
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    throw UpstreamTransport.map(error, provider: provider)
                }
                guard let buffer else {
                    if let event = parser.finishRaw(), let chunk = try handle(event) { return chunk }
                    if state == .streaming { throw GatewayError.streamInterrupted(provider: provider) }
                    continue
                }
                parser.append(buffer)
            }
        }

        /// What an event telemetry has no use for carries, relayed only for its bytes.
        static let noChunk = ChatChunk(id: "", model: "", created: 0, choices: [])

        private mutating func handle(_ raw: SSEParser.RawEvent) throws -> Relayable<ChatChunk>? {
            switch format {
            case .openAIPassthrough, .openAI:
                // Read in place. Relayed, the chunk keeps a slice of the bytes the upstream sent, to go out
                // as they are; otherwise only the value travels (it is translated or rewritten).
                if raw.data.readableBytesView.elementsEqual("[DONE]".utf8) {
                    state = .done
                    return nil
                }
                do {
                    let chunk = try OpenAIPassthrough.chunk(raw.data)
                    return format == .openAIPassthrough ? chunk : Relayable(chunk.value)
                } catch let error as OpenAIPassthrough.ErrorEvent {
                    throw GatewayError.upstreamStatus(500, provider: provider, excerpt: String(CredentialScrubber.scrub(String(error.message.prefix(16_384)), secrets: secrets).prefix(300)), inStream: true)
                } catch {
                    throw GatewayError.upstreamInvalidResponse(provider: provider, reason: "undecodable stream chunk")
                }
            case .anthropic, .anthropicPassthrough:
                let wire = format == .anthropicPassthrough ? AnthropicPassthrough.event(raw) : nil
                do {
                    switch try anthropic.decode(ServerSentEvent(raw)) {
                    case .chunk(let chunk): return Relayable(chunk, wire: wire)
                    case .skip: return wire.map { Relayable(Self.noChunk, wire: $0) } ?? (reportsSkipped ? Relayable(ChatChunkStream.skippedMarker) : nil)
                    case .finished:
                        state = .sendUsage
                        return wire.map { Relayable(Self.noChunk, wire: $0) }
                    }
                } catch let error as AnthropicStreamDecoder.StreamError {
                    let status = error.type == "overloaded_error" ? 503 : (error.type == "rate_limit_error" ? 429 : 500)
                    throw GatewayError.upstreamStatus(status, provider: provider, excerpt: String(CredentialScrubber.scrub(String(error.message.prefix(16_384)), secrets: secrets).prefix(300)), inStream: true)
                } catch {
                    throw GatewayError.upstreamInvalidResponse(provider: provider, reason: "undecodable stream event")
                }
            }
        }
    }
}

extension ChatChunk {
    /// Whether the chunk says anything of the answer: text, a tool call or a finish.
    var hasContent: Bool {
        choices.contains { !($0.content ?? "").isEmpty || !$0.toolCalls.isEmpty || $0.finishReason != nil }
    }
}
