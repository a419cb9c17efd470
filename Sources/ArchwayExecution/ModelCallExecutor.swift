public import ArchwayCore
public import ArchwayConfig
public import ArchwayProviders
public import ArchwayRouting
public import ArchwayTelemetry
public import Logging
public import NIOCore
public import Tracing

/// The one way to call a model. HTTP routes, workflow steps, shadow samples and probes hand it a request
/// and a `CallScope`; it runs the stages, follows the routing plan (one GenAI CLIENT span per model
/// tried, a fallback only for failures another model could fix) and sends every call's
/// `AttemptOutcome` to the `OutcomeSink`. It knows nothing of HTTP servers.
public struct ModelCallExecutor: Sendable {
    let routing: any RoutingPolicy
    let providers: ProviderRegistry
    public let sink: OutcomeSink
    let stages: StageChain
    /// Prices in force when a call is made; without it, each model's configured base price.
    let pricing: PricingIndex?
    let clock: any GatewayClock
    let logger: Logger
    /// Samples routes' answers for consistency shadowing, when a route asks for it.
    let sampler: ConsistencySampler?

    public init(
        routing: any RoutingPolicy,
        providers: ProviderRegistry,
        sink: OutcomeSink,
        stages: StageChain = StageChain(),
        pricing: PricingIndex? = nil,
        sampler: ConsistencySampler? = nil,
        clock: any GatewayClock = SystemClock(),
        logger: Logger
    ) {
        self.routing = routing
        self.providers = providers
        self.sink = sink
        self.stages = stages
        self.pricing = pricing
        self.sampler = sampler
        self.clock = clock
        self.logger = logger
    }

    public var telemetry: GenAITelemetry { sink.telemetry }

    /// The one decision whether calls to `model` (a model or route name, as the client asked) may relay
    /// the client's bytes instead of decoding content: not when content is captured, nor when a stage
    /// reads their content (a policy the model is not exempt from, a cache).
    public func relaysClientBytes(ofCallsTo model: String) -> Bool {
        !telemetry.captureContent && !stages.readsContent(ofCallsTo: model)
    }

    /// A request read from the OpenAI wire, with its bytes kept when they may be relayed.
    public func envelope(_ request: ChatRequest, openAIBytes: ByteBuffer) -> Relayable<ChatRequest> {
        relaysClientBytes(ofCallsTo: request.model) ? Relayable(request, wire: WireBytes(bytes: openAIBytes)) : Relayable(request)
    }

    /// A request read from the Anthropic wire, with its bytes kept when they may be relayed (to an
    /// Anthropic-wire provider only).
    public func envelope(_ request: ChatRequest, anthropicBytes: ByteBuffer, beta: String? = nil) -> Relayable<ChatRequest> {
        guard relaysClientBytes(ofCallsTo: request.model) else { return Relayable(request) }
        var wire = WireBytes(bytes: anthropicBytes, format: .anthropic)
        wire.anthropicBeta = beta
        return Relayable(request, wire: wire)
    }

    // MARK: - Entry points

    /// A non-streamed chat call. The answer is named after the configured model that answered (the
    /// client's own name, unless a route chose).
    public func chat(_ request: Relayable<ChatRequest>, scope: CallScope) async throws -> Relayable<ChatResponse> {
        try await answer(request, scope: scope).response
    }

    /// A non-streamed chat call, with the context of the GenAI span of the model that answered (what
    /// an evaluation of the answer is parented to).
    public func answer(_ request: Relayable<ChatRequest>, scope: CallScope) async throws -> (response: Relayable<ChatResponse>, context: ServiceContext) {
        var request = relaysClientBytes(ofCallsTo: scope.model) ? request : request.droppingWire()
        let (early, transforms) = try await stages.before(&request, scope: scope)
        if let response = early {
            var answer = Relayable(response)
            answer.rename(model: scope.model)
            return (answer, scope.context)
        }
        let capture = telemetry.captureContent
        let sampling = scope.isSampled ? sampler?.draw(route: scope.model) : nil
        let result = try await run(scope, operation: .chat, chat: request.value) { call in
            let reply = try await call.adapter.chat(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            let response = reply.value.value
            call.outcome.responseID = response.id
            call.outcome.responseModel = response.model
            call.outcome.finishReasons = response.finishReasons
            call.record(usage: response.usage)
            return (reply.value, capture ? response : nil)
        }
        var answer = result.value
        let model = result.model
        let context = result.context
        try await stages.after(&answer, request: request.value, scope: scope)
        if let sampling {
            // Sampled as the model answered (placeholders and all): shadow calls never see what was redacted.
            sampler?.offer(sampling, request: request.value, answer: answer, model: model, context: context)
        }
        for transform in transforms {
            answer.rewrite { $0 = transform.transform($0) }
        }
        answer.rename(model: model)
        return (answer, context)
    }

    /// A streamed chat call. Returns once a model accepted it (so failures before the first byte still
    /// reach the client as an error status, and fall back to the next model); the stream then owns the
    /// call's spans and ends them exactly once, however it ends.
    public func stream(_ request: Relayable<ChatRequest>, scope: CallScope) async throws -> ModelStream {
        var request = relaysClientBytes(ofCallsTo: scope.model) ? request : request.droppingWire()
        let (early, transforms) = try await stages.before(&request, scope: scope)
        if let response = early {
            return ModelStream(answered: response, model: scope.model)
        }
        let sampling = scope.isSampled ? sampler?.draw(route: scope.model) : nil
        let started = try await run(scope, operation: .chat, chat: request.value, streamed: true, keepOpen: true) { call in
            var reply = try await call.adapter.streamChat(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            // Up to the first chunk, a broken stream is a failed attempt another model may answer.
            do {
                reply.value = try await reply.value.prefetchingFirstChunk()
            } catch {
                reply.exchange.end(error: error is CancellationError ? call.cancellationError : GatewayError(error))
                throw error
            }
            return (StartedStream(call: call, reply: reply), nil)
        }
        let call = started.value.call
        let reply = started.value.reply
        let model = started.model
        // A sampled stream assembles its answer, and hands it over once it ended well.
        // (Spelled out: `captureContent || sampled != nil` here crashed the 6.3 optimiser.)
        var sampled: SampleHandoff?
        var assemble = telemetry.captureContent
        if let sampling, let sampler {
            sampled = SampleHandoff(sampler: sampler, draw: sampling, request: request.value, model: model, context: call.span.context)
            assemble = true
        }
        var transformers: [any ChunkTransformer] = []
        for transform in transforms { transformers.append(transform.chunkTransformer()) }
        let lifetime = StreamCall(
            call: call,
            exchange: reply.exchange,
            sink: sink,
            clock: clock,
            assembleOutput: assemble,
            onAnswer: sampled
        )
        return ModelStream(upstream: reply.value, call: lifetime, model: model, transformers: transformers)
    }

    public func embeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingResponse {
        let request = stages.isEmpty ? request : try await stages.beforeEmbeddings(request, scope: scope)
        let result = try await run(scope, operation: .embeddings, chat: nil) { call in
            if let format = request.encodingFormat, call.span.isRecording {
                call.span.modifyAttributes { $0.set(GenAIAttributes.requestEncodingFormats, [format]) }
            }
            let reply = try await call.adapter.embeddings(request, call: call.upstream)
            call.outcome.rateLimit = reply.rateLimit
            let response = reply.value
            call.outcome.responseModel = response.model
            call.record(usage: response.usage)
            switch response.vectors.first {
            case .floats(let values)?: call.outcome.embeddingDimensions = values.count
            // Little-endian float32s in base64 (what the OpenAI SDKs ask for by default): four bytes each.
            case .base64(let text)?: call.outcome.embeddingDimensions = Self.base64ByteCount(text) / 4
            case nil: break
            }
            return (response, nil)
        }
        var response = result.value
        response.model = result.model
        return response
    }

    /// The number of bytes `text`, base64, decodes to.
    static func base64ByteCount(_ text: String) -> Int {
        let utf8 = text.utf8
        let padding = utf8.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count
        return utf8.count / 4 * 3 - padding
    }

    // MARK: - Running the plan

    /// Tries the plan's models in order until one answers, and returns its value and the configured
    /// model that gave it. Each model tried is one span and one outcome.
    /// Moves on only after failures another model could fix (and, for a route, that its `retries.on`
    /// names, within its `retries.max` and retry budget, after a jittered backoff), never past the deadline.
    private func run<Value>(
        _ scope: CallScope,
        operation: GenAIOperation,
        chat request: ChatRequest?,
        streamed: Bool = false,
        keepOpen: Bool = false,
        _ body: (inout ModelCall) async throws -> (Value, output: ChatResponse?)
    ) async throws -> CallResult<Value> {
        let now = clock.now
        let routingRequest = RoutingRequest(
            model: scope.model,
            stream: streamed,
            estimatedInputTokens: request.map(Self.estimatedInputTokens) ?? 0,
            maxOutputTokens: request?.maxTokens
        )
        let plan = try routing.plan(for: routingRequest, now: now)
        scope.decisions?.decided(plan.decision)
        // The route's load counts this request until it ends: here, or when a stream's call ends.
        plan.load?.enter()
        var loadHandedOver = false
        defer { if !loadHandedOver { plan.load?.leave() } }
        let deadline = scope.deadline.map { min($0, plan.deadline) } ?? plan.deadline
        let maxAttempts = plan.retries.map { 1 + $0.max } ?? plan.attempts.count
        // Made only when no model could be tried: a message is formatted for it.
        var lastError: GatewayError?
        var tried = 0
        var lastTried = "none"
        // The model that failed and why, counted as a fallback once the next model is really tried (the
        // retry budget, the deadline or a missing provider may end the call first).
        var fallingBackFrom: (model: String, errorType: String)?
        for entry in plan.attempts {
            guard tried < maxAttempts else { break }
            if tried > 0, let retries = plan.retries {
                guard plan.retryBudget?.withdraw(at: clock.now) ?? true else {
                    scope.decisions?.retryBudgetRanOut()
                    break
                }
                // Jittered exponential backoff (0.5–1.5 × base × 2^(n-1)), never past the deadline.
                let pause = retries.backoff * (Double(1 << min(tried - 1, 6)) * Double.random(in: 0.5...1.5))
                guard clock.now + pause < deadline else { break }
                if pause > .zero { try await Task.sleep(for: pause) }
            }
            guard clock.now < deadline else {
                lastError = .deadlineExceeded
                break
            }
            guard let adapter = providers.adapter(for: entry.provider.name) else {
                lastError = .providerNotReady(entry.provider.name)
                continue
            }
            tried += 1
            lastTried = entry.model.name
            if let from = fallingBackFrom, let decision = plan.decision {
                telemetry.counter(GenAIMetricSet.routeFallbacks, unit: "{fallback}", [
                    (GenAIAttributes.archwayRouteName, decision.route),
                    (GenAIAttributes.archwayModel, from.model),
                    (GenAIAttributes.errorType, from.errorType),
                ]).increment()
            }
            fallingBackFrom = nil
            scope.decisions?.tried(entry.model.name, fallback: tried > 1)
            let server = adapter.serverAddress
            let target = ModelCallTarget(
                operation: operation,
                providerName: entry.provider.providerName,
                providerKey: entry.provider.name,
                clientModel: scope.model,
                model: entry.model.name,
                purpose: scope.purpose,
                upstreamModel: entry.model.upstreamModel,
                serverAddress: server.host,
                serverPort: server.port,
                spanName: entry.spanName(of: operation)
            )
            let span = telemetry.startModelCall(target, chat: request, context: scope.context, link: scope.link, systemApart: adapter.takesSystemApart)
            if let request, request.maxTokens == nil, let limit = adapter.defaultMaxTokens, span.isRecording {
                span.modifyAttributes { $0.set(GenAIAttributes.requestMaxTokens, limit) }
            }
            sink.callStarted(target)
            var call = ModelCall(
                entry: entry,
                adapter: adapter,
                span: span,
                start: clock.now,
                price: pricing?.price(for: entry.model.name) ?? entry.model.price,
                routeLoad: plan.load,
                decisions: scope.decisions,
                outcome: AttemptOutcome(target: target, streamed: streamed),
                // A route moves on to its other candidates itself: no retries at the same provider.
                upstream: UpstreamCall(context: span.context, deadline: deadline, model: entry.model.upstreamModel, maxRetries: plan.retries.map { _ in 0 })
            )
            do {
                let (value, output) = try await body(&call)
                if keepOpen { loadHandedOver = true } else { finish(call, output: output) }
                recordDecision(plan.decision, chosen: entry.model.name, movedOn: tried > 1)
                return CallResult(value: value, model: entry.model.name, context: span.context)
            } catch {
                // A cancelled caller may surface as the client library's own error: it is still the caller
                // that left, not a failure another model could fix.
                let cancelled = error is CancellationError || Task.isCancelled
                let failure = cancelled ? call.cancellationError : GatewayError(error)
                call.outcome.error = failure
                if let headroom = failure.rateLimit { call.outcome.rateLimit = headroom }
                finish(call, output: nil)
                if cancelled { throw CancellationError() }
                lastError = failure
                logger.debug("model call failed", metadata: ["model": "\(entry.model.name)", "provider": "\(entry.provider.name)", "error.type": "\(failure.shortDescription)"])
                guard failure.allowsFallback, plan.retries.map({ Self.movesOn(failure, on: $0.on) }) ?? true else { break }
                fallingBackFrom = (entry.model.name, failure.shortDescription)
            }
        }
        recordDecision(plan.decision, chosen: lastTried, movedOn: tried > 1)
        var failure = lastError ?? .modelNotFound(scope.model)
        // The route that decided names itself on the failed answer too (`x-archway-route`).
        failure.route = plan.decision?.route
        throw failure
    }

    /// Whether a route's `retries.on` covers the failure (by its status: 429, 504, other 5xx).
    static func movesOn(_ failure: GatewayError, on conditions: Set<RouteConfiguration.RetryCondition>) -> Bool {
        switch failure.status.code {
        case 429: conditions.contains(.rateLimited)
        case 504: conditions.contains(.timeout)
        case 500...: conditions.contains(.serverError)
        default: false
        }
    }

    private func recordDecision(_ decision: RoutingDecision?, chosen: String, movedOn: Bool) {
        guard let decision else { return }
        telemetry.counter(GenAIMetricSet.routeDecisions, unit: "{decision}", [
            (GenAIAttributes.archwayRouteName, decision.route),
            (GenAIAttributes.archwayRouteChosen, chosen),
            (GenAIAttributes.archwayRouteReason, movedOn ? "fallback" : decision.reason.rawValue),
        ]).increment()
    }

    /// About four characters a token: enough to compare candidates' expected cost.
    static func estimatedInputTokens(_ request: ChatRequest) -> Int {
        var characters = 0
        for message in request.messages {
            for part in message.content {
                if case .text(let text) = part { characters += text.utf8.count }
            }
        }
        return characters / 4 + 4 * request.messages.count
    }

    func finish(_ call: ModelCall, output: ChatResponse?) {
        var outcome = call.outcome
        outcome.duration = call.start.duration(to: clock.now)
        outcome.httpAttempts = call.upstream.attempts.value
        call.decisions?.spent(outcome.costUSD)
        sink.record(outcome, span: call.span, output: output)
    }
}

/// What `run` returns: the value, the configured model that gave it, and its GenAI span's context.
struct CallResult<Value> {
    var value: Value
    var model: String
    var context: ServiceContext
}

extension CallResult: Sendable where Value: Sendable {}

/// A stream a model accepted: its call and the upstream reply.
struct StartedStream: Sendable {
    var call: ModelCall
    var reply: UpstreamReply<ChatChunkStream>
}

/// One model call in progress: the model tried, its span, and its outcome so far.
struct ModelCall: Sendable {
    let entry: ModelCatalog.Entry
    let adapter: any ProviderAdapter
    let span: any Span
    let start: ContinuousClock.Instant
    /// The price in force when the call was made.
    let price: ModelPrice?
    /// The route's load, left when a stream's call ends (non-streamed calls leave it in `run`).
    let routeLoad: RouteLoad?
    /// The caller's record of the call: what each model tried cost.
    let decisions: CallDecisions?
    var outcome: AttemptOutcome
    let upstream: UpstreamCall

    /// What a cancellation of the call stands for (`client_closed` unless its caller said otherwise).
    var cancellationError: GatewayError { decisions?.cancellationError ?? .clientClosed }

    mutating func record(usage: Usage?) {
        outcome.usage = usage
        if let usage, let price {
            outcome.costUSD = price.cost(of: usage)
        }
    }
}
