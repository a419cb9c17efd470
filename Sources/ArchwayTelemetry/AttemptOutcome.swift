public import ArchwayCore

/// What is known about a model call before it starts: the attributes that drive sampling.
public struct ModelCallTarget: Sendable, Hashable {
    public var operation: GenAIOperation
    /// `gen_ai.provider.name`: the real upstream (`openai`, `anthropic`, `deepseek`, …).
    public var providerName: String
    /// The configured provider account.
    public var providerKey: String
    /// The model or route name the client sent.
    public var clientModel: String
    /// The configured model this call went to (the client's name unless a route chose it).
    public var model: String
    /// Why the call was made, when not for a client: `probe` (an ejected model's health check), later
    /// `shadow` and workflow steps.
    public var purpose: String?
    /// The id sent upstream (`gen_ai.request.model`).
    public var upstreamModel: String
    public var serverAddress: String
    public var serverPort: Int
    /// The CLIENT span's name, `{gen_ai.operation.name} {gen_ai.request.model}`.
    public var spanName: String

    /// `spanName` is the conventions' name; a caller that calls the same model often passes the one it
    /// made before (the name is otherwise interpolated for every call).
    public init(
        operation: GenAIOperation,
        providerName: String,
        providerKey: String,
        clientModel: String,
        model: String? = nil,
        purpose: String? = nil,
        upstreamModel: String,
        serverAddress: String,
        serverPort: Int,
        spanName: String? = nil
    ) {
        self.operation = operation
        self.providerName = providerName
        self.providerKey = providerKey
        self.clientModel = clientModel
        self.model = model ?? clientModel
        self.purpose = purpose
        self.upstreamModel = upstreamModel
        self.serverAddress = serverAddress
        self.serverPort = serverPort
        self.spanName = spanName ?? "\(operation.rawValue) \(upstreamModel)"
    }
}

extension ModelCallTarget {
    /// The purpose of consistency samples: their spans say `archway.shadow: true`.
    public static let shadowPurpose = "shadow"
    /// The purpose of an ejected model's health checks.
    public static let probePurpose = "probe"
}

/// The one record of a model call. The same value sets the span's attributes, records the metrics
/// and (with routing) updates the router's live statistics, so nothing is measured twice.
public struct AttemptOutcome: Sendable {
    public var target: ModelCallTarget
    public var responseID: String?
    public var responseModel: String?
    public var finishReasons: [FinishReason]
    public var usage: Usage?
    /// From the start of the call to its last byte.
    public var duration: Duration
    /// Streams only: from the start of the call to the first content chunk.
    public var timeToFirstChunk: Duration?
    /// Streams only: number of chunks that carried output.
    public var outputChunks: Int
    public var streamed: Bool
    public var costUSD: Double?
    public var error: GatewayError?
    /// HTTP attempts made for this call (1 + retries).
    public var httpAttempts: Int
    public var rateLimit: RateLimitHeadroom?
    public var embeddingDimensions: Int?

    public init(target: ModelCallTarget, streamed: Bool) {
        self.target = target
        self.finishReasons = []
        self.duration = .zero
        self.outputChunks = 0
        self.streamed = streamed
        self.httpAttempts = 0
    }
}
