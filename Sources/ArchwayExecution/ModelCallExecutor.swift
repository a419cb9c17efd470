public import ArchwayCore
import ArchwayConfig
public import ArchwayProviders
public import ArchwayRouting
public import ArchwayTelemetry
public import Logging
public import NIOCore
import Tracing

/// The one way to call a model. HTTP routes, workflow steps, shadow samples and probes hand it a request
/// and a `CallScope`; it runs the stages, follows the routing plan (one GenAI CLIENT span per model
/// tried, a fallback only for failures another model could fix) and sends every call's
/// `AttemptOutcome` to the `OutcomeSink`. It knows nothing of HTTP servers.
public struct ModelCallExecutor: Sendable {
    let routing: any RoutingPolicy
    let providers: ProviderRegistry
    public let sink: OutcomeSink
    let stages: StageChain
    let clock: any GatewayClock
    let logger: Logger

    public init(
        routing: any RoutingPolicy,
        providers: ProviderRegistry,
        sink: OutcomeSink,
        stages: StageChain = StageChain(),
        clock: any GatewayClock = SystemClock(),
        logger: Logger
    ) {
        self.routing = routing
        self.providers = providers
        self.sink = sink
        self.stages = stages
        self.clock = clock
        self.logger = logger
        self.relaysClientBytes = !sink.telemetry.captureContent && !stages.readsContent
    }

    public var telemetry: GenAITelemetry { sink.telemetry }

    /// The one decision whether calls may relay the client's bytes instead of decoding content: not
    /// when content is captured, nor when any stage reads content (policy, cache).
    public let relaysClientBytes: Bool

    /// A request read from the OpenAI wire, with its bytes kept when they may be relayed.
    public func envelope(_ request: ChatRequest, openAIBytes: ByteBuffer) -> Relayable<ChatRequest> {
        relaysClientBytes ? Relayable(request, wire: OpenAIWireBytes(bytes: openAIBytes)) : Relayable(request)
    }

    // MARK: - Entry points

    /// A non-streamed chat call. The answer is named after the client-facing model.
    public func chat(_ request: Relayable<ChatRequest>, scope: CallScope) async throws -> Relayable<ChatResponse> {
        var request = relaysClientBytes ? request : request.droppingWire()
        if let response = try await stages.before(&request, scope: scope) {
            var answer = Relayable(response)
            answer.rename(model: scope.model)
            return answer
        }
        let capture = telemetry.captureContent
        var answer = try await run(scope, operation: .chat, chat: request.value) { call in
            let reply = try await call.adapter.chat(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            let response = reply.value.value
            call.outcome.responseID = response.id
            call.outcome.responseModel = response.model
            call.outcome.finishReasons = response.finishReasons
            call.record(usage: response.usage)
            return (reply.value, capture ? response : nil)
        }
        try await stages.after(&answer, request: request.value, scope: scope)
        answer.rename(model: scope.model)
        return answer
    }

    /// A streamed chat call. Returns once a model accepted it (so failures before the first byte still
    /// reach the client as an error status, and fall back to the next model); the stream then owns the
    /// call's spans and ends them exactly once, however it ends.
    public func stream(_ request: Relayable<ChatRequest>, scope: CallScope) async throws -> ModelStream {
        var request = relaysClientBytes ? request : request.droppingWire()
        if let response = try await stages.before(&request, scope: scope) {
            return ModelStream(answered: response, model: scope.model)
        }
        let start = try await run(scope, operation: .chat, chat: request.value, streamed: true, keepOpen: true) { call in
            let reply = try await call.adapter.streamChat(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            return ((call, reply), nil)
        }
        let (call, reply) = start
        let lifetime = StreamCall(call: call, exchange: reply.exchange, sink: sink, clock: clock, assembleOutput: telemetry.captureContent)
        return ModelStream(upstream: reply.value, call: lifetime, model: scope.model)
    }

    public func embeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingResponse {
        var response = try await run(scope, operation: .embeddings, chat: nil) { call in
            let reply = try await call.adapter.embeddings(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            let response = reply.value
            call.outcome.responseModel = response.model
            call.record(usage: response.usage)
            if case .floats(let values)? = response.vectors.first { call.outcome.embeddingDimensions = values.count }
            return (response, nil)
        }
        response.model = scope.model
        return response
    }

    // MARK: - Running the plan

    /// Tries the plan's models in order until one answers. Each model tried is one span and one outcome.
    /// Moves on only after failures another model could fix, and never past the deadline.
    private func run<Value>(
        _ scope: CallScope,
        operation: GenAIOperation,
        chat request: ChatRequest?,
        streamed: Bool = false,
        keepOpen: Bool = false,
        _ body: (inout ModelCall) async throws -> (Value, output: ChatResponse?)
    ) async throws -> Value {
        let now = clock.now
        let plan = try routing.plan(forModel: scope.model, now: now)
        let deadline = scope.deadline.map { min($0, plan.deadline) } ?? plan.deadline
        var lastError = GatewayError.modelNotFound(scope.model)
        for entry in plan.attempts {
            guard clock.now < deadline else {
                lastError = .deadlineExceeded
                break
            }
            guard let adapter = providers.adapter(for: entry.provider.name) else {
                lastError = .providerNotReady(entry.provider.name)
                continue
            }
            let server = adapter.serverAddress
            let target = ModelCallTarget(
                operation: operation,
                providerName: entry.provider.providerName,
                providerKey: entry.provider.name,
                clientModel: scope.model,
                upstreamModel: entry.model.upstreamModel,
                serverAddress: server.host,
                serverPort: server.port
            )
            let span = telemetry.startModelCall(target, chat: request, context: scope.context)
            var call = ModelCall(
                entry: entry,
                adapter: adapter,
                span: span,
                start: clock.now,
                outcome: AttemptOutcome(target: target, streamed: streamed),
                upstream: UpstreamCall(context: span.context, deadline: deadline, model: entry.model.upstreamModel)
            )
            do {
                let (value, output) = try await body(&call)
                if !keepOpen { finish(call, output: output) }
                return value
            } catch {
                // A cancelled caller may surface as the client library's own error: it is still the caller
                // that left, not a failure another model could fix.
                let cancelled = error is CancellationError || Task.isCancelled
                let failure = cancelled ? GatewayError.clientClosed : GatewayError(error)
                call.outcome.error = failure
                finish(call, output: nil)
                if cancelled { throw CancellationError() }
                lastError = failure
                logger.debug("model call failed", metadata: ["model": "\(scope.model)", "provider": "\(entry.provider.name)", "error.type": "\(failure.shortDescription)"])
                guard failure.allowsFallback else { break }
            }
        }
        throw lastError
    }

    func finish(_ call: ModelCall, output: ChatResponse?) {
        var outcome = call.outcome
        outcome.duration = call.start.duration(to: clock.now)
        outcome.httpAttempts = call.upstream.attempts.value
        sink.record(outcome, span: call.span, output: output)
    }
}

/// One model call in progress: the model tried, its span, and its outcome so far.
struct ModelCall: Sendable {
    let entry: ModelCatalog.Entry
    let adapter: any ProviderAdapter
    let span: any Span
    let start: ContinuousClock.Instant
    var outcome: AttemptOutcome
    let upstream: UpstreamCall

    mutating func record(usage: Usage?) {
        outcome.usage = usage
        if let usage, let price = entry.model.price {
            outcome.costUSD = price.cost(of: usage)
        }
    }
}
