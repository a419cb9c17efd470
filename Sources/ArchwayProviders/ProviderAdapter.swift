public import ArchwayConfig
public import ArchwayCore
public import ArchwayTelemetry
public import Tracing
import Synchronization

/// Speaks one provider's wire: builds its requests, reads its answers and streams, maps its errors.
/// Adapters only throw `GatewayError` (or `CancellationError` when the caller went away).
///
/// Requests and answers are `Relayable`: when the request still carries the client's OpenAI-wire bytes,
/// an OpenAI-wire provider gets those bytes and its answer comes back as bytes too.
public protocol ProviderAdapter: Sendable {
    var provider: ProviderConfiguration { get }
    /// `server.address` and `server.port` of the upstream, for telemetry.
    var serverAddress: (host: String, port: Int) { get }

    func chat(_ request: Relayable<ChatRequest>, call: UpstreamCall) async throws -> UpstreamReply<Relayable<ChatResponse>>
    /// Returns once the upstream has answered with a success status; the chunks arrive through the stream.
    func streamChat(_ request: Relayable<ChatRequest>, call: UpstreamCall) async throws -> UpstreamReply<ChatChunkStream>
    func embeddings(_ request: EmbeddingRequest, call: UpstreamCall) async throws -> UpstreamReply<EmbeddingResponse>
    /// The `max_tokens` the adapter sends for a chat request that sets none (Anthropic requires one), so
    /// the call's span can say what limit the model had.
    var defaultMaxTokens: Int? { get }
    /// Whether the provider's API takes system instructions apart from the conversation (Anthropic's
    /// `system`): captured content then puts them in `gen_ai.system_instructions`, else they stay in
    /// `gen_ai.input.messages`, in their place and with their role, as the conventions ask.
    var takesSystemApart: Bool { get }
}

extension ProviderAdapter {
    public var defaultMaxTokens: Int? { nil }
    public var takesSystemApart: Bool { false }
}

/// Per-call inputs an adapter needs besides the request.
public struct UpstreamCall: Sendable {
    /// Context of the GenAI span: each HTTP attempt is a child of it.
    public var context: ServiceContext
    /// Absolute deadline of the whole call.
    public var deadline: ContinuousClock.Instant
    /// The model id sent upstream (the request carries the client-facing name).
    public var model: String
    /// Counts HTTP attempts as they are made: the one count of a call's attempts, so a call that fails
    /// after retries reports them as well as one that succeeds.
    public let attempts: AttemptCounter
    /// Retries of this call at the same provider; nil means `upstream.max_retries`. A route that moves
    /// on to other candidates itself sets 0.
    public var maxRetries: Int?

    public init(context: ServiceContext, deadline: ContinuousClock.Instant, model: String, attempts: AttemptCounter = AttemptCounter(), maxRetries: Int? = nil) {
        self.context = context
        self.deadline = deadline
        self.model = model
        self.attempts = attempts
        self.maxRetries = maxRetries
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
    public var rateLimit: RateLimitHeadroom
    /// The HTTP span of the successful attempt; ended when the body has been read.
    public var exchange: UpstreamExchange

    public init(value: Value, rateLimit: RateLimitHeadroom, exchange: UpstreamExchange) {
        self.value = value
        self.rateLimit = rateLimit
        self.exchange = exchange
    }
}
