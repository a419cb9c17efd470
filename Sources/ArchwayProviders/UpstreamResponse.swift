public import NIOCore
public import NIOHTTP1

/// An upstream's answer: its head, and its body as it arrives or already whole.
public struct UpstreamResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: UpstreamResponseBody

    init(head: HTTPResponseHead, body: UpstreamResponseBody) {
        self.status = head.status
        self.headers = head.headers
        self.body = body
    }
}

/// The body of an upstream answer.
///
/// A streamed body is read with back-pressure: the connection stops reading from its socket while the
/// consumer is behind, and dropping or cancelling the reader closes the connection, which also tells the
/// provider to stop generating. A body the connection collected before answering (a call that wants the
/// whole answer) is already here, or holds the error that cut it short, thrown when it is read, as a
/// streamed body would throw it.
public struct UpstreamResponseBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, UpstreamConnectionHandler.BodyDemand
    >

    enum Storage: Sendable {
        case streamed(Producer)
        case collected(ByteBuffer)
        case failed(any Error)
    }

    let storage: Storage

    init(producer: Producer) {
        storage = .streamed(producer)
    }

    init(collected: ByteBuffer) {
        storage = .collected(collected)
    }

    init(failure: any Error) {
        storage = .failed(failure)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        enum State {
            case streamed(Producer.AsyncIterator)
            case collected(ByteBuffer)
            case failed(any Error)
            case finished
        }

        var state: State

        public mutating func next() async throws -> ByteBuffer? {
            switch state {
            case .streamed(let parts):
                return try await parts.next()
            case .collected(let buffer):
                state = .finished
                return buffer.readableBytes > 0 ? buffer : nil
            case .failed(let error):
                state = .finished
                throw error
            case .finished:
                return nil
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .streamed(let producer): AsyncIterator(state: .streamed(producer.makeAsyncIterator()))
        case .collected(let buffer): AsyncIterator(state: .collected(buffer))
        case .failed(let error): AsyncIterator(state: .failed(error))
        }
    }

    /// The whole body, or `NIOTooManyBytesError` past `limit`.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        switch storage {
        case .collected(let buffer):
            guard buffer.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
            return buffer
        case .failed(let error):
            throw error
        case .streamed:
            break
        }
        var collected = ByteBuffer()
        var iterator = makeAsyncIterator()
        while var part = try await iterator.next() {
            guard collected.append(&part, limit: limit) else { throw NIOTooManyBytesError(maxBytes: limit) }
        }
        return collected
    }
}
