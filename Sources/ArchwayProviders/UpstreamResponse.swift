public import NIOCore
public import NIOHTTP1

/// An upstream's answer: its head at once, its body as it arrives.
public struct UpstreamResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: UpstreamResponseBody
}

/// The body of an upstream answer, read with back-pressure: the connection stops reading from its socket
/// while the consumer is behind. Dropping or cancelling the reader closes the connection, which also
/// tells the provider to stop generating.
public struct UpstreamResponseBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, UpstreamConnectionHandler.BodyDemand
    >

    let producer: Producer

    public struct AsyncIterator: AsyncIteratorProtocol {
        var parts: Producer.AsyncIterator

        public mutating func next() async throws -> ByteBuffer? {
            try await parts.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(parts: producer.makeAsyncIterator())
    }

    /// The whole body, or `NIOTooManyBytesError` past `limit`.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var iterator = makeAsyncIterator()
        guard var collected = try await iterator.next() else { return ByteBuffer() }
        guard collected.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
        while var part = try await iterator.next() {
            guard collected.readableBytes + part.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
            collected.writeBuffer(&part)
        }
        return collected
    }
}
