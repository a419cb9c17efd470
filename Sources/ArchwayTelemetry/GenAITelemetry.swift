public import ArchwayCore
public import CoreMetrics
public import Logging
public import Tracing
import Metrics

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Records model calls as GenAI spans and metrics, from `AttemptOutcome`s.
///
/// Uses only the tracing and metrics APIs, with the tracer and metrics factory injected, so tests
/// run against `InMemoryTracer` and `TestMetrics` and the executable against swift-otel.
public struct GenAITelemetry: Sendable {
    public let tracer: any Tracer
    public let metrics: any MetricsFactory
    public let metricSet: GenAIMetricSet
    /// Export message content on spans (opt-in).
    public let captureContent: Bool
    /// Where GenAI events go (`gen_ai.evaluation.result`): one log record per event, its message the
    /// event name, its metadata the attributes, logged inside the evaluated span's context. The
    /// executable exports them as OTLP log records; nil drops them.
    public let events: Logger?
    /// The PII policy's masking, applied to every captured content attribute and to the request's values
    /// a span always carries (stop sequences, the conversation id): with a policy, no detected value
    /// reaches a span whatever `capture_content` says.
    public let contentFilter: (@Sendable (String) -> String)?
    private let handles: MetricHandleCache

    public init(
        tracer: any Tracer,
        metrics: any MetricsFactory,
        metricSet: GenAIMetricSet = GenAIMetricSet(version: .stable),
        captureContent: Bool = false,
        events: Logger? = nil,
        contentFilter: (@Sendable (String) -> String)? = nil
    ) {
        self.tracer = tracer
        self.metrics = metrics
        self.metricSet = metricSet
        self.captureContent = captureContent
        self.events = events
        self.contentFilter = contentFilter
        self.handles = MetricHandleCache(factory: metrics)
    }

    /// Starts the CLIENT span of a model call, with the attributes known up front (they drive sampling).
    /// A shadow call (`purpose` shadow) is linked to the call it evaluates.
    /// With content captured, `systemApart` says whether the provider takes system instructions apart from
    /// the conversation (Anthropic), where they are `gen_ai.system_instructions`.
    public func startModelCall(_ target: ModelCallTarget, chat request: ChatRequest?, context: ServiceContext, link: ServiceContext? = nil, systemApart: Bool = false) -> any Span {
        let span = tracer.startSpan(target.spanName, context: context, ofKind: .client)
        if let link { span.addLink(SpanLink(context: link, attributes: [:])) }
        guard span.isRecording else { return span }
        span.setInitialAttributes(capacity: 32) { attributes in
            attributes.set(GenAIAttributes.operationName, target.operation.rawValue)
            attributes.set(GenAIAttributes.providerName, target.providerName)
            attributes.set(GenAIAttributes.requestModel, target.upstreamModel)
            attributes.set(GenAIAttributes.serverAddress, target.serverAddress)
            attributes.set(GenAIAttributes.serverPort, target.serverPort)
            attributes.set(GenAIAttributes.archwayModel, target.model)
            attributes.set(GenAIAttributes.archwayProvider, target.providerKey)
            if target.clientModel != target.model { attributes.set(GenAIAttributes.archwayRouteName, target.clientModel) }
            if let purpose = target.purpose {
                attributes.set(GenAIAttributes.archwayCallPurpose, purpose)
                if purpose == ModelCallTarget.shadowPurpose { attributes.set(GenAIAttributes.archwayShadow, true) }
            }
            if let request {
                attributes.set(GenAIAttributes.requestTemperature, request.temperature)
                attributes.set(GenAIAttributes.requestTopP, request.topP)
                attributes.set(GenAIAttributes.requestTopK, request.topK)
                attributes.set(GenAIAttributes.requestMaxTokens, request.maxTokens)
                attributes.set(GenAIAttributes.requestStopSequences, contentFilter == nil ? request.stop : request.stop?.map(filtered))
                attributes.set(GenAIAttributes.requestSeed, request.seed)
                attributes.set(GenAIAttributes.requestFrequencyPenalty, request.frequencyPenalty)
                attributes.set(GenAIAttributes.requestPresencePenalty, request.presencePenalty)
                if let count = request.choiceCount, count != 1 { attributes.set(GenAIAttributes.requestChoiceCount, count) }
                if request.stream { attributes.set(GenAIAttributes.requestStream, true) }
                if request.responseFormat != nil { attributes.set(GenAIAttributes.outputType, request.outputType) }
                if let conversation = request.extra["conversation_id"]?.stringValue ?? request.extra["metadata"]?["conversation_id"]?.stringValue {
                    attributes.set(GenAIAttributes.conversationID, filtered(conversation))
                }
            }
        }
        if captureContent, let request {
            span.modifyAttributes { attributes in
                let (system, messages) = ContentCapture.inputMessages(request.messages, systemApart: systemApart)
                attributes.set(GenAIAttributes.inputMessages, filtered(messages))
                attributes.set(GenAIAttributes.systemInstructions, system.map(filtered))
                attributes.set(GenAIAttributes.toolDefinitions, request.tools.flatMap(ContentCapture.toolDefinitions).map(filtered))
            }
        }
        return span
    }

    /// Sets the outcome's attributes and status on the span, records the metrics, and ends the span.
    public func finish(_ span: any Span, outcome: AttemptOutcome, output: ChatResponse? = nil) {
        if span.isRecording {
            span.modifyAttributes { attributes in
                attributes.set(GenAIAttributes.responseID, outcome.responseID)
                attributes.set(GenAIAttributes.responseModel, outcome.responseModel)
                if !outcome.finishReasons.isEmpty {
                    attributes.set(GenAIAttributes.responseFinishReasons, Self.attributeValue(outcome.finishReasons))
                }
                if let usage = outcome.usage {
                    attributes.set(GenAIAttributes.usageInputTokens, usage.inputTokens)
                    if outcome.target.operation != .embeddings {
                        attributes.set(GenAIAttributes.usageOutputTokens, usage.outputTokens)
                    }
                    attributes.set(GenAIAttributes.usageCacheReadInputTokens, usage.cacheReadTokens)
                    attributes.set(GenAIAttributes.usageCacheWriteInputTokens, usage.cacheCreationTokens)
                    attributes.set(GenAIAttributes.usageReasoningOutputTokens, usage.reasoningTokens)
                }
                if let ttfc = outcome.timeToFirstChunk {
                    attributes.set(GenAIAttributes.responseTimeToFirstChunk, ttfc.seconds)
                }
                attributes.set(GenAIAttributes.embeddingsDimensionCount, outcome.embeddingDimensions)
                attributes.set(GenAIAttributes.archwayCostUSD, outcome.costUSD)
                if outcome.httpAttempts > 1 { attributes.set(GenAIAttributes.archwayAttempts, outcome.httpAttempts) }
                if let error = outcome.error { attributes.set(GenAIAttributes.errorType, error.shortDescription) }
            }
            if captureContent, let output {
                span.modifyAttributes { $0.set(GenAIAttributes.outputMessages, filtered(ContentCapture.outputMessages(output))) }
            }
            if let error = outcome.error {
                // A provider's error may quote the request ("Invalid value: '…'"): its excerpt is content,
                // on the span only with content captured (and masked by the policy).
                span.setStatus(SpanStatus(code: .error, message: captureContent ? filtered(error.message) : error.messageWithoutExcerpt))
            }
        }
        recordMetrics(outcome)
        span.end()
    }

    /// The finish reasons as the attribute's string array. Nearly every call has exactly one, so its
    /// array is made once rather than per call.
    private static func attributeValue(_ reasons: [FinishReason]) -> [String] {
        guard reasons.count == 1 else { return reasons.map(\.rawValue) }
        switch reasons[0] {
        case .stop: return SingleFinishReason.stop
        case .length: return SingleFinishReason.length
        case .toolCalls: return SingleFinishReason.toolCalls
        case .contentFilter: return SingleFinishReason.contentFilter
        case .error: return SingleFinishReason.error
        }
    }

    private enum SingleFinishReason {
        static let stop = [FinishReason.stop.rawValue]
        static let length = [FinishReason.length.rawValue]
        static let toolCalls = [FinishReason.toolCalls.rawValue]
        static let contentFilter = [FinishReason.contentFilter.rawValue]
        static let error = [FinishReason.error.rawValue]
    }

    private func filtered(_ text: String) -> String {
        contentFilter.map { $0(text) } ?? text
    }

    /// Records the outcome's metrics without a span (used by `finish`).
    ///
    /// The call's handles are found with one lookup by its target and outcome
    /// (`ModelCallMetricHandles`), not one by dimension list per metric: the lists are built only the
    /// first time a series is recorded into, so recording a call's half dozen metrics allocates nothing.
    public func recordMetrics(_ outcome: AttemptOutcome) {
        let target = outcome.target
        let responseModel = Self.seriesResponseModel(outcome.responseModel)
        let errorType = outcome.error?.shortDescription
        let series = handles.call(ModelCallMetricHandles.Key(target: target, responseModel: responseModel, errorType: errorType))
        let metricSet = metricSet
        let factory = metrics
        func dimensions(_ unit: String, error: Bool = false, _ extra: (String, String)? = nil) -> [(String, String)] {
            Self.dimensions(of: target, responseModel: responseModel, unit: unit, errorType: error ? errorType : nil, extra)
        }
        func histogram(_ slot: borrowing LazyMetricHandle<Recorder>, _ label: String, _ dimensions: () -> [(String, String)]) -> Recorder {
            slot.handle { Recorder(label: label, dimensions: dimensions(), aggregate: true, factory: factory) }
        }

        let embeddings = target.operation == .embeddings
        // The latest experimental set has metrics of its own for embeddings (input tokens only).
        let durationLabel = embeddings && metricSet.version == .latestExperimental ? GenAIMetricSet.embeddingsDuration : metricSet.operationDuration
        histogram(series.duration, durationLabel) { dimensions("s", error: true) }.record(outcome.duration.seconds)

        // Time per output chunk is recorded as each chunk arrives (`timePerOutputChunk`), not here.
        if outcome.streamed, outcome.error == nil, let ttfc = outcome.timeToFirstChunk {
            histogram(series.timeToFirstChunk, metricSet.timeToFirstChunk) { dimensions("s") }.record(ttfc.seconds)
        }

        // The latest experimental set records token counts for every call, a failed one's as 0 of the
        // `unknown` modality with its `error.type`; the stable set, only what the provider reported.
        let reported = outcome.usage ?? (metricSet.version == .latestExperimental && outcome.error != nil ? Usage(inputTokens: 0, outputTokens: 0) : nil)
        if let usage = reported {
            switch metricSet.version {
            case .stable:
                let input = (GenAIAttributes.tokenType, "input")
                histogram(series.inputTokens, GenAIMetricSet.tokenUsage) { dimensions("{token}", input) }.record(usage.inputTokens)
                if target.operation != .embeddings {
                    let output = (GenAIAttributes.tokenType, "output")
                    histogram(series.outputTokens, GenAIMetricSet.tokenUsage) { dimensions("{token}", output) }.record(usage.outputTokens)
                }
            case .latestExperimental where embeddings:
                histogram(series.inputTokens, GenAIMetricSet.embeddingsInputTokensHistogram) { dimensions("{token}", error: true) }.record(usage.inputTokens)
            case .latestExperimental:
                histogram(series.inputTokens, GenAIMetricSet.inputTokensHistogram) { dimensions("{token}", error: true) }.record(usage.inputTokens)
                histogram(series.outputTokens, GenAIMetricSet.outputTokensHistogram) { dimensions("{token}", error: true) }.record(usage.outputTokens)
                let modality = (GenAIAttributes.tokenModality, outcome.usage == nil ? "unknown" : "text")
                func tokens(_ slot: borrowing LazyMetricHandle<Counter>, _ label: String, _ count: Int?) {
                    guard let count else { return }
                    slot.handle { Counter(label: label, dimensions: dimensions("{token}", error: true, modality), factory: factory) }.increment(by: count)
                }
                tokens(series.inputTokenCount, GenAIMetricSet.inputTokensCounter, usage.inputTokens)
                tokens(series.outputTokenCount, GenAIMetricSet.outputTokensCounter, usage.outputTokens)
                tokens(series.cacheReadTokenCount, GenAIMetricSet.cacheReadTokensCounter, usage.cacheReadTokens)
                tokens(series.cacheWriteTokenCount, GenAIMetricSet.cacheWriteTokensCounter, usage.cacheCreationTokens)
                tokens(series.reasoningTokenCount, GenAIMetricSet.reasoningTokensCounter, usage.reasoningTokens)
            }
        }

        if let cost = outcome.costUSD, cost > 0 {
            series.cost.handle {
                // By model and purpose only: the response model and error are left out.
                FloatingPointCounter(label: GenAIMetricSet.cost, dimensions: [
                    ("unit", "USD"),
                    (GenAIAttributes.operationName, target.operation.rawValue),
                    (GenAIAttributes.archwayModel, target.model),
                    (GenAIAttributes.providerName, target.providerName),
                    (GenAIAttributes.requestModel, target.upstreamModel),
                    // Shadow and probe spend apart from what clients' calls cost.
                    (GenAIAttributes.archwayCallPurpose, target.purpose ?? "client"),
                ], factory: factory)
            }.increment(by: cost)
        }
        if outcome.httpAttempts > 1 {
            series.retries.handle {
                Counter(label: GenAIMetricSet.upstreamRetries, dimensions: [
                    ("unit", "{retry}"),
                    (GenAIAttributes.archwayProvider, target.providerKey),
                    (GenAIAttributes.requestModel, target.upstreamModel),
                ], factory: factory)
            }.increment(by: outcome.httpAttempts - 1)
        }
    }

    /// The response model as a series label: none when empty or past 128 bytes, which no provider's model
    /// id is (a label must not take whatever an upstream sends).
    static func seriesResponseModel(_ model: String?) -> String? {
        model.flatMap { !$0.isEmpty && $0.utf8.count <= 128 ? $0 : nil }
    }

    /// The dimensions of a call's GenAI series: the conventions' attributes, then `error.type` when given,
    /// `archway.call.purpose` for the gateway's own calls (probes, consistency shadows; clients' carry
    /// none), then `extra`.
    static func dimensions(of target: ModelCallTarget, responseModel: String?, unit: String, errorType: String?, _ extra: (String, String)? = nil) -> [(String, String)] {
        var dimensions: [(String, String)] = [
            ("unit", unit),
            (GenAIAttributes.operationName, target.operation.rawValue),
            (GenAIAttributes.providerName, target.providerName),
            (GenAIAttributes.requestModel, target.upstreamModel),
            (GenAIAttributes.serverAddress, target.serverAddress),
            (GenAIAttributes.serverPort, String(target.serverPort)),
        ]
        if let responseModel { dimensions.append((GenAIAttributes.responseModel, responseModel)) }
        if let errorType { dimensions.append((GenAIAttributes.errorType, errorType)) }
        if let purpose = target.purpose { dimensions.append((GenAIAttributes.archwayCallPurpose, purpose)) }
        if let extra { dimensions.append(extra) }
        return dimensions
    }

    /// The time-per-output-chunk histogram of a stream's target and response model, which the conventions
    /// record "for each chunk received after the first one": a stream looks it up once, at its second
    /// chunk, and records every gap between chunks into it as it comes, so a stall shows as itself rather
    /// than inside a per-stream average.
    public func timePerOutputChunk(_ target: ModelCallTarget, responseModel: String?) -> Recorder {
        let responseModel = Self.seriesResponseModel(responseModel)
        let series = handles.call(ModelCallMetricHandles.Key(target: target, responseModel: responseModel, errorType: nil))
        let label = metricSet.timePerOutputChunk
        let factory = metrics
        return series.timePerOutputChunk.handle {
            Recorder(label: label, dimensions: Self.dimensions(of: target, responseModel: responseModel, unit: "s", errorType: nil), aggregate: true, factory: factory)
        }
    }

    /// `http.server.request.duration` of one method, route template, status and error class (`error.type`:
    /// the status from 500 up, or what failed after the status went out, such as `stream_interrupted` or
    /// `client_closed`). Looked up by those: the dimension list is built only the first time a combination
    /// is seen, not on every request.
    public func httpServerDuration(method: String, route: String?, status: Int, errorType: String? = nil) -> Recorder {
        handles.serverDurationRecorder(MetricHandleCache.ServerKey(method: method, route: route, status: status, errorType: errorType)) {
            var dimensions = [
                ("unit", "s"),
                (GenAIAttributes.httpRequestMethod, method),
                (GenAIAttributes.httpRoute, route ?? "other"),
                (GenAIAttributes.httpResponseStatusCode, String(status)),
                (GenAIAttributes.urlScheme, "http"),
            ]
            if let errorType { dimensions.append((GenAIAttributes.errorType, errorType)) }
            return dimensions
        }
    }

    /// A histogram (aggregating recorder) with the unit passed the way swift-otel reads it.
    public func histogram(_ label: String, unit: String, _ dimensions: [(String, String)]) -> Recorder {
        handles.recorder(label, [("unit", unit)] + dimensions)
    }

    public func counter(_ label: String, unit: String, _ dimensions: [(String, String)]) -> Counter {
        handles.counter(label, [("unit", unit)] + dimensions)
    }

    /// A counter of fractional amounts (USD).
    public func floatingCounter(_ label: String, unit: String, _ dimensions: [(String, String)]) -> FloatingPointCounter {
        handles.floatingPointCounter(label, [("unit", unit)] + dimensions)
    }

    /// A gauge (last value wins), created through the metrics factory.
    public func gauge(_ label: String, unit: String, _ dimensions: [(String, String)]) -> Gauge {
        Gauge(label: label, dimensions: [("unit", unit)] + dimensions, factory: metrics)
    }
}

extension GenAITelemetry {
    /// Records a `gen_ai.evaluation.result` event parented to the evaluated call's span (its context).
    public func recordEvaluation(_ result: EvaluationResult, of evaluated: ServiceContext) {
        guard let events else { return }
        var metadata: Logger.Metadata = [
            GenAIAttributes.evaluationName: .string(result.name),
            GenAIAttributes.evaluationScoreValue: .stringConvertible(result.score),
            GenAIAttributes.evaluationScoreLabel: .string(result.label),
            GenAIAttributes.archwayModel: .string(result.model),
        ]
        if let id = result.responseID { metadata[GenAIAttributes.responseID] = .string(id) }
        if let route = result.route { metadata[GenAIAttributes.archwayRouteName] = .string(route) }
        if let reference = result.reference { metadata[GenAIAttributes.archwayConsistencyReference] = .string(reference) }
        if let explanation = result.explanation { metadata[GenAIAttributes.evaluationExplanation] = .string(explanation) }
        ServiceContext.withValue(evaluated) {
            events.info(Logger.Message(stringLiteral: EvaluationResult.eventName), metadata: metadata)
        }
    }
}

extension Duration {
    /// The duration in seconds, as the conventions' `s` unit wants it.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
