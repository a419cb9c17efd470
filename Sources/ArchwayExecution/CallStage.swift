public import ArchwayCore

/// What a stage decides before the model is called.
public enum BeforeCallDecision: Sendable {
    /// Go on with the request as it is.
    case proceed
    /// Go on with this request instead (a redacted prompt, say). The client's bytes are dropped. With
    /// `answers`, the answer is transformed on its way back (placeholders restored), streams included.
    case rewrite(ChatRequest, answers: (any AnswerTransform)? = nil)
    /// Answer now, without calling any model (a cache hit, a refusal).
    case respond(ChatResponse)
}

/// What a stage decides once the model answered.
public enum AfterCallDecision: Sendable {
    case proceed
    /// Answer with this instead (restored placeholders, say). The upstream's bytes are dropped.
    case rewrite(ChatResponse)
}

/// Changes a call's answer on its way back to the client, for a stage that changed the request (a
/// redaction's placeholders turned back into the client's values).
public protocol AnswerTransform: Sendable {
    func transform(_ response: ChatResponse) -> ChatResponse
    /// A transformer for one stream, which may hold text back across chunks.
    func chunkTransformer() -> any ChunkTransformer
}

/// Transforms one stream's chunks in order. It may hold content back (a placeholder split across
/// chunks) and must give it back, at the latest with the chunk that carries a finish reason or in `finish`.
public protocol ChunkTransformer: Sendable {
    mutating func transform(_ chunk: ChatChunk) -> ChatChunk
    /// What is still held back when the stream ends without a finish reason, as a last chunk.
    mutating func finish() -> ChatChunk?
}

/// A step around every chat call: policy, cache and budget checks plug in here, for every ingress,
/// without touching the HTTP routes (the shape of Envoy's filters and Bifrost's plugins).
///
/// A stage that throws fails the call closed: the request is not sent.
public protocol CallStage: Sendable {
    /// A bounded name, for logs and spans.
    var name: String { get }
    /// Whether the stage reads or changes the content of calls to `model` (the name the client asked
    /// for: a model or a route). Such a stage turns the byte relay off for those calls, so it always
    /// sees decoded content (never bytes it cannot read); a model it leaves alone keeps the relay.
    func readsContent(ofCallsTo model: String) -> Bool

    func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision
    func afterCall(_ response: ChatResponse, request: ChatRequest, scope: CallScope) async throws -> AfterCallDecision
    /// An embeddings request before the model is called: returns it as it is to go (its inputs redacted,
    /// say), or throws to refuse it. An embeddings answer is vectors: there is nothing to restore.
    func beforeEmbeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingRequest
}

extension CallStage {
    public func readsContent(ofCallsTo model: String) -> Bool { true }

    public func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision { .proceed }

    public func afterCall(_ response: ChatResponse, request: ChatRequest, scope: CallScope) async throws -> AfterCallDecision { .proceed }

    public func beforeEmbeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingRequest { request }
}
