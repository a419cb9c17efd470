public import ArchwayConfig
public import ArchwayCore
public import Tracing
import Synchronization

/// Speaks one provider's wire: builds its requests, reads its answers and streams, maps its errors.
/// Adapters only throw `GatewayError` (or `CancellationError` when the caller went away).
public protocol ProviderAdapter: Sendable {
    var provider: ProviderConfiguration { get }
    /// `server.address` and `server.port` of the upstream, for telemetry.
    var serverAddress: (host: String, port: Int) { get }

    func chat(_ request: ChatRequest, call: UpstreamCall) async throws -> UpstreamReply<ChatResponse>
    /// Returns once the upstream has answered with a success status; the chunks arrive through the stream.
    func streamChat(_ request: ChatRequest, call: UpstreamCall) async throws -> UpstreamReply<ChatChunkStream>
    func embeddings(_ request: EmbeddingRequest, call: UpstreamCall) async throws -> UpstreamReply<EmbeddingResponse>
}

/// Per-call inputs an adapter needs besides the request.
public struct UpstreamCall: Sendable {
    /// Context of the GenAI span: each HTTP attempt is a child of it.
    public var context: ServiceContext
    /// Absolute deadline of the whole call.
    public var deadline: ContinuousClock.Instant
    /// Counts HTTP attempts as they are made, so a call that fails after retries still reports them.
    public let attempts: AttemptCounter

    public init(context: ServiceContext, deadline: ContinuousClock.Instant, attempts: AttemptCounter = AttemptCounter()) {
        self.context = context
        self.deadline = deadline
        self.attempts = attempts
    }
}

/// The number of HTTP attempts of one model call.
public final class AttemptCounter: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    public var value: Int { count.load(ordering: .relaxed) }

    func increment() {
        count.add(1, ordering: .relaxed)
    }
}

/// An upstream's answer plus what the transport learned about it.
public struct UpstreamReply<Value: Sendable>: Sendable {
    public var value: Value
    /// HTTP attempts made (1 + retries).
    public var attempts: Int
    public var rateLimit: (remainingRequests: Int?, remainingTokens: Int?)
    /// The HTTP span of the successful attempt; ended by `finish` when the body has been read.
    public var exchange: UpstreamExchange

    public init(value: Value, attempts: Int, rateLimit: (remainingRequests: Int?, remainingTokens: Int?), exchange: UpstreamExchange) {
        self.value = value
        self.attempts = attempts
        self.rateLimit = rateLimit
        self.exchange = exchange
    }
}
