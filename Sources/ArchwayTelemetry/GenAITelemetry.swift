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
    /// Applied to every captured content attribute (the PII policy's masking): with a policy, no detected
    /// value reaches a span whatever `capture_content` says.
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
    public func startModelCall(_ target: ModelCallTarget, chat request: ChatRequest?, context: ServiceContext, link: ServiceContext? = nil) -> any Span {
        let span = tracer.startSpan("\(target.operation.rawValue) \(target.upstreamModel)", context: context, ofKind: .client)
        if let link { span.addLink(SpanLink(context: link, attributes: [:])) }
        guard span.isRecording else { return span }
        span.updateAttributes { attributes in
            attributes[GenAIAttributes.operationName] = target.operation.rawValue
            attributes[GenAIAttributes.providerName] = target.providerName
            attributes[GenAIAttributes.requestModel] = target.upstreamModel
            attributes[GenAIAttributes.serverAddress] = target.serverAddress
            attributes[GenAIAttributes.serverPort] = target.serverPort
            attributes[GenAIAttributes.archwayModel] = target.model
            attributes[GenAIAttributes.archwayProvider] = target.providerKey
            if target.clientModel != target.model { attributes[GenAIAttributes.archwayRouteName] = target.clientModel }
            if let purpose = target.purpose {
                attributes[GenAIAttributes.archwayCallPurpose] = purpose
                if purpose == ModelCallTarget.shadowPurpose { attributes[GenAIAttributes.archwayShadow] = true }
            }
            guard let request else { return }
            attributes[GenAIAttributes.requestTemperature] = request.temperature
            attributes[GenAIAttributes.requestTopP] = request.topP
            attributes[GenAIAttributes.requestTopK] = request.topK
            attributes[GenAIAttributes.requestMaxTokens] = request.maxTokens
            attributes[GenAIAttributes.requestStopSequences] = request.stop
            attributes[GenAIAttributes.requestSeed] = request.seed
            attributes[GenAIAttributes.requestFrequencyPenalty] = request.frequencyPenalty
            attributes[GenAIAttributes.requestPresencePenalty] = request.presencePenalty
            if let count = request.choiceCount, count != 1 { attributes[GenAIAttributes.requestChoiceCount] = count }
            if request.stream { attributes[GenAIAttributes.requestStream] = true }
            if request.responseFormat != nil { attributes[GenAIAttributes.outputType] = request.outputType }
            if let conversation = request.extra["conversation_id"]?.stringValue ?? request.extra["metadata"]?["conversation_id"]?.stringValue {
                attributes[GenAIAttributes.conversationID] = conversation
            }
        }
        if captureContent, let request {
            span.updateAttributes { attributes in
                let (system, messages) = ContentCapture.inputMessages(request.messages)
                attributes[GenAIAttributes.inputMessages] = filtered(messages)
                attributes[GenAIAttributes.systemInstructions] = system.map(filtered)
                attributes[GenAIAttributes.toolDefinitions] = request.tools.flatMap(ContentCapture.toolDefinitions).map(filtered)
            }
        }
        return span
    }

    /// Sets the outcome's attributes and status on the span, records the metrics, and ends the span.
    public func finish(_ span: any Span, outcome: AttemptOutcome, output: ChatResponse? = nil) {
        if span.isRecording {
            span.updateAttributes { attributes in
                attributes[GenAIAttributes.responseID] = outcome.responseID
                attributes[GenAIAttributes.responseModel] = outcome.responseModel
                if !outcome.finishReasons.isEmpty {
                    attributes[GenAIAttributes.responseFinishReasons] = outcome.finishReasons.map(\.rawValue)
                }
                if let usage = outcome.usage {
                    attributes[GenAIAttributes.usageInputTokens] = usage.inputTokens
                    if outcome.target.operation != .embeddings {
                        attributes[GenAIAttributes.usageOutputTokens] = usage.outputTokens
                    }
                    attributes[GenAIAttributes.usageCacheReadInputTokens] = usage.cacheReadTokens
                    attributes[GenAIAttributes.usageCacheWriteInputTokens] = usage.cacheCreationTokens
                    attributes[GenAIAttributes.usageReasoningOutputTokens] = usage.reasoningTokens
                }
                if let ttfc = outcome.timeToFirstChunk {
                    attributes[GenAIAttributes.responseTimeToFirstChunk] = ttfc.seconds
                }
                attributes[GenAIAttributes.embeddingsDimensionCount] = outcome.embeddingDimensions
                attributes[GenAIAttributes.archwayCostUSD] = outcome.costUSD
                if outcome.httpAttempts > 1 { attributes[GenAIAttributes.archwayAttempts] = outcome.httpAttempts }
                if let error = outcome.error { attributes[GenAIAttributes.errorType] = error.shortDescription }
            }
            if captureContent, let output {
                span.attributes[GenAIAttributes.outputMessages] = filtered(ContentCapture.outputMessages(output))
            }
            if let error = outcome.error {
                span.setStatus(SpanStatus(code: .error, message: error.message))
            }
        }
        recordMetrics(outcome)
        span.end()
    }

    private func filtered(_ text: String) -> String {
        contentFilter.map { $0(text) } ?? text
    }

    /// Records the outcome's metrics without a span (used by `finish`).
    public func recordMetrics(_ outcome: AttemptOutcome) {
        let target = outcome.target
        var dimensions: [(String, String)] = [
            (GenAIAttributes.operationName, target.operation.rawValue),
            (GenAIAttributes.providerName, target.providerName),
            (GenAIAttributes.requestModel, target.upstreamModel),
            (GenAIAttributes.serverAddress, target.serverAddress),
            (GenAIAttributes.serverPort, String(target.serverPort)),
        ]
        if let responseModel = outcome.responseModel, !responseModel.isEmpty, responseModel.utf8.count <= 128 {
            dimensions.append((GenAIAttributes.responseModel, responseModel))
        }
        var durationDimensions = dimensions
        if let error = outcome.error { durationDimensions.append((GenAIAttributes.errorType, error.shortDescription)) }
        histogram(metricSet.operationDuration, unit: "s", durationDimensions).record(outcome.duration.seconds)

        if outcome.streamed, outcome.error == nil, let ttfc = outcome.timeToFirstChunk {
            histogram(metricSet.timeToFirstChunk, unit: "s", dimensions).record(ttfc.seconds)
            if outcome.outputChunks > 1 {
                let perChunk = (outcome.duration - ttfc).seconds / Double(outcome.outputChunks - 1)
                histogram(metricSet.timePerOutputChunk, unit: "s", dimensions).record(perChunk)
            }
        }

        if let usage = outcome.usage {
            switch metricSet.version {
            case .stable:
                histogram(GenAIMetricSet.tokenUsage, unit: "{token}", dimensions + [(GenAIAttributes.tokenType, "input")]).record(usage.inputTokens)
                if target.operation != .embeddings {
                    histogram(GenAIMetricSet.tokenUsage, unit: "{token}", dimensions + [(GenAIAttributes.tokenType, "output")]).record(usage.outputTokens)
                }
            case .latestExperimental:
                histogram(GenAIMetricSet.inputTokensHistogram, unit: "{token}", durationDimensions).record(usage.inputTokens)
                histogram(GenAIMetricSet.outputTokensHistogram, unit: "{token}", durationDimensions).record(usage.outputTokens)
                let modality = dimensions + [(GenAIAttributes.tokenModality, "text")]
                counter(GenAIMetricSet.inputTokensCounter, unit: "{token}", modality).increment(by: usage.inputTokens)
                counter(GenAIMetricSet.outputTokensCounter, unit: "{token}", modality).increment(by: usage.outputTokens)
                if let cached = usage.cacheReadTokens { counter(GenAIMetricSet.cacheReadTokensCounter, unit: "{token}", modality).increment(by: cached) }
                if let written = usage.cacheCreationTokens { counter(GenAIMetricSet.cacheWriteTokensCounter, unit: "{token}", modality).increment(by: written) }
                if let reasoning = usage.reasoningTokens { counter(GenAIMetricSet.reasoningTokensCounter, unit: "{token}", modality).increment(by: reasoning) }
            }
        }

        if let cost = outcome.costUSD, cost > 0 {
            handles.floatingPointCounter(GenAIMetricSet.cost, [
                ("unit", "USD"),
                (GenAIAttributes.operationName, target.operation.rawValue),
                (GenAIAttributes.archwayModel, target.model),
                (GenAIAttributes.providerName, target.providerName),
                (GenAIAttributes.requestModel, target.upstreamModel),
                // Shadow and probe spend apart from what clients' calls cost.
                (GenAIAttributes.archwayCallPurpose, target.purpose ?? "client"),
            ]).increment(by: cost)
        }
        if outcome.httpAttempts > 1 {
            counter(GenAIMetricSet.upstreamRetries, unit: "{retry}", [
                (GenAIAttributes.archwayProvider, target.providerKey),
                (GenAIAttributes.requestModel, target.upstreamModel),
            ]).increment(by: outcome.httpAttempts - 1)
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
