import ArchwayConfig
import ArchwayCore
import ArchwayProviders
import ArchwayRouting
import ArchwayTelemetry
import Logging
import Tracing

/// Runs model calls along a routing plan: one GenAI CLIENT span per model tried, one `AttemptOutcome`
/// per span that feeds telemetry (and, with adaptive routing, the router's statistics).
struct ModelCallExecutor: Sendable {
    let routing: any RoutingPolicy
    let providers: ProviderRegistry
    let telemetry: GenAITelemetry
    let logger: Logger

    /// A model call in progress: its span, its outcome so far, and what it needs to finish.
    struct Call: Sendable {
        var entry: ModelCatalog.Entry
        var span: any Span
        var outcome: AttemptOutcome
        var start: ContinuousClock.Instant
        var adapter: any ProviderAdapter
        var deadline: ContinuousClock.Instant
        let attempts = AttemptCounter()

        var upstreamCall: UpstreamCall { UpstreamCall(context: span.context, deadline: deadline, attempts: attempts) }
    }

    func chat(_ request: ChatRequest, context: ServiceContext) async throws -> ChatResponse {
        try await run(model: request.model, operation: .chat, request: request, context: context) { call in
            var upstreamRequest = request
            upstreamRequest.model = call.entry.model.upstreamModel
            let reply = try await call.adapter.chat(upstreamRequest, call: call.upstreamCall)
            var response = reply.value
            call.record(reply: reply)
            call.outcome.responseID = response.id
            call.outcome.responseModel = response.model
            call.outcome.finishReasons = response.finishReasons
            call.record(usage: response.usage)
            response.model = request.model
            return (response, response)
        }
    }

    func embeddings(_ request: EmbeddingRequest, context: ServiceContext) async throws -> EmbeddingResponse {
        try await run(model: request.model, operation: .embeddings, request: nil, context: context) { call in
            var upstreamRequest = request
            upstreamRequest.model = call.entry.model.upstreamModel
            let reply = try await call.adapter.embeddings(upstreamRequest, call: call.upstreamCall)
            var response = reply.value
            call.record(reply: reply)
            call.outcome.responseModel = response.model
            call.record(usage: response.usage)
            if case .floats(let values)? = response.vectors.first { call.outcome.embeddingDimensions = values.count }
            response.model = request.model
            return (response, nil)
        }
    }

    /// Starts a streamed chat call. Returns once the upstream accepted it, so failures before the first
    /// byte still reach the client as an HTTP error status.
    func startStream(_ request: ChatRequest, context: ServiceContext) async throws -> (call: Call, stream: ChatChunkStream, exchange: UpstreamExchange) {
        var result: (Call, ChatChunkStream, UpstreamExchange)?
        _ = try await run(model: request.model, operation: .chat, request: request, context: context, finishOnSuccess: false) { call in
            var upstreamRequest = request
            upstreamRequest.model = call.entry.model.upstreamModel
            let reply = try await call.adapter.streamChat(upstreamRequest, call: call.upstreamCall)
            call.record(reply: reply)
            result = (call, reply.value, reply.exchange)
            return ((), nil)
        }
        guard let result else { throw GatewayError.internalError("stream did not start") }
        return result
    }

    /// Ends a streamed call's span with its outcome.
    func finish(_ call: Call, output: ChatResponse? = nil) {
        var call = call
        call.outcome.duration = call.start.duration(to: .now)
        telemetry.finish(call.span, outcome: call.outcome, output: output)
    }

    private func run<Value>(
        model: String,
        operation: GenAIOperation,
        request: ChatRequest?,
        context: ServiceContext,
        finishOnSuccess: Bool = true,
        _ body: (inout Call) async throws -> (Value, ChatResponse?)
    ) async throws -> Value {
        let now = ContinuousClock.now
        let plan = try routing.plan(forModel: model, now: now)
        var lastError = GatewayError.modelNotFound(model)
        for entry in plan.attempts {
            guard let adapter = providers.adapter(for: entry.provider.name) else {
                lastError = GatewayError(status: .serviceUnavailable, type: "upstream_error", code: "provider_not_ready", message: "Provider '\(entry.provider.name)' is not ready.", shortDescription: "provider_not_ready")
                continue
            }
            let server = adapter.serverAddress
            let target = ModelCallTarget(
                operation: operation,
                providerName: entry.provider.providerName,
                providerKey: entry.provider.name,
                clientModel: model,
                upstreamModel: entry.model.upstreamModel,
                serverAddress: server.host,
                serverPort: server.port
            )
            let start = ContinuousClock.now
            let span = telemetry.startModelCall(target, chat: request, context: context)
            var call = Call(
                entry: entry,
                span: span,
                outcome: AttemptOutcome(target: target, streamed: request?.stream ?? false),
                start: start,
                adapter: adapter,
                deadline: plan.deadline
            )
            do {
                let (value, output) = try await body(&call)
                if finishOnSuccess { finish(call, output: output) }
                return value
            } catch {
                let failure = error is CancellationError
                    ? GatewayError.from(CancellationError())
                    : GatewayError.from(error)
                call.outcome.error = failure
                call.outcome.httpAttempts = call.attempts.value
                finish(call)
                if error is CancellationError { throw error }
                lastError = failure
                logger.debug("model call failed", metadata: ["model": "\(model)", "provider": "\(entry.provider.name)", "error.type": "\(failure.shortDescription)"])
            }
        }
        throw lastError
    }
}

extension ModelCallExecutor.Call {
    mutating func record<Value>(reply: UpstreamReply<Value>) {
        outcome.httpAttempts = reply.attempts
        outcome.rateLimit = RateLimitHeadroom(remainingRequests: reply.rateLimit.remainingRequests, remainingTokens: reply.rateLimit.remainingTokens)
    }

    mutating func record(usage: Usage?) {
        outcome.usage = usage
        if let usage, let price = entry.model.price {
            outcome.costUSD = price.cost(of: usage)
        }
    }
}
