public import ArchwayCore
public import ArchwayRouting
import ArchwayTelemetry
import ArchwayWire
public import Logging
import Tracing

/// Evaluates one consistency sample: asks the route's reference model (and any left-out candidate
/// being rechecked) the same request as shadow calls through the executor, scores each answer against
/// the reference's, records the score in the candidate's window, and emits a `gen_ai.evaluation.result`
/// event parented to the evaluated call's span.
///
/// Shadow calls are ordinary model calls (routed, retried, recorded, priced) with purpose `shadow`:
/// their spans say `archway.shadow: true` and link to the call they evaluate; their cost is counted
/// under `archway.call.purpose="shadow"`.
public struct ConsistencyEvaluator: Sendable {
    /// `gen_ai.evaluation.name` of consistency scores.
    public static let evaluationName = "archway.consistency"

    let executor: ModelCallExecutor
    let scores: ConsistencyScores
    /// The models' statistics: a shadow call is not made to a model held back by its provider's
    /// `retry-after` or ejected, as a route would not call it.
    let statistics: RoutingStatistics?
    let logger: Logger

    public init(executor: ModelCallExecutor, scores: ConsistencyScores, statistics: RoutingStatistics? = nil, logger: Logger) {
        self.executor = executor
        self.scores = scores
        self.statistics = statistics
        self.logger = logger
    }

    public func evaluate(_ sample: ConsistencySample) async {
        // A relayed answer's content is decoded here, off the client's path.
        guard let text = Self.text(of: sample.answered) else { return }
        let answered = ConsistencySample.Answer(
            model: sample.answeredModel,
            text: text,
            responseID: sample.answered.value.id,
            context: sample.answeredContext
        )
        let reference: String
        if answered.model == sample.settings.reference {
            reference = answered.text
        } else {
            guard let answer = await shadowAnswer(sample, model: sample.settings.reference) else { return }
            reference = answer.text
        }
        if sample.compareAnswer {
            await score(answered, against: reference, sample)
        }
        for model in sample.recheck where model != sample.settings.reference {
            guard let answer = await shadowAnswer(sample, model: model) else { continue }
            await score(answer, against: reference, sample)
        }
    }

    /// One shadow call: the sampled request to `model`, linked to the evaluated call. Nil when it failed.
    private func shadowAnswer(_ sample: ConsistencySample, model: String) async -> ConsistencySample.Answer? {
        if let statistics, let stats = statistics.stats(for: model) {
            let now = statistics.now
            if stats.isCoolingDown(at: now) || stats.isEjected(at: now) {
                // Its provider asked for quiet, or it is out: a call would fail (and restart the hold).
                count(sample.route, outcome: "skipped")
                return nil
            }
        }
        let scope = CallScope(model: model, purpose: ModelCallTarget.shadowPurpose, link: sample.answeredContext)
        do {
            let (response, context) = try await executor.answer(Relayable(sample.request), scope: scope)
            guard let text = Self.text(of: response) else {
                count(sample.route, outcome: "failed")
                return nil
            }
            return ConsistencySample.Answer(model: model, text: text, responseID: response.value.id, context: context)
        } catch {
            count(sample.route, outcome: "failed")
            logger.debug("shadow call failed", metadata: ["archway.model": "\(model)", "archway.route.name": "\(sample.route)"])
            return nil
        }
    }

    private func score(_ answer: ConsistencySample.Answer, against reference: String, _ sample: ConsistencySample) async {
        let settings = sample.settings
        let value: Double
        let explanation: String
        if let embeddings = settings.embeddings {
            let request = EmbeddingRequest(model: embeddings, input: .array([.string(answer.text), .string(reference)]))
            let scope = CallScope(model: embeddings, purpose: ModelCallTarget.shadowPurpose, link: answer.context)
            guard let response = try? await executor.embeddings(request, scope: scope),
                  response.vectors.count == 2,
                  case .floats(let left) = response.vectors[0],
                  case .floats(let right) = response.vectors[1]
            else {
                count(sample.route, outcome: "failed")
                return
            }
            value = AnswerSimilarity.cosine(left, right)
            explanation = "cosine similarity of \(embeddings) embeddings to \(settings.reference)'s answer"
        } else {
            value = AnswerSimilarity.score(answer.text, reference)
            explanation = "similarity to \(settings.reference)'s answer (words and trigrams; JSON by structure)"
        }
        guard let (summary, changed) = scores.record(value, model: answer.model, route: sample.route) else { return }
        let label = value >= settings.minScore ? "consistent" : "inconsistent"
        let telemetry = executor.telemetry
        telemetry.recordEvaluation(
            EvaluationResult(
                name: Self.evaluationName,
                score: value,
                label: label,
                responseID: answer.responseID,
                model: answer.model,
                route: sample.route,
                reference: settings.reference,
                explanation: explanation
            ),
            of: answer.context
        )
        count(sample.route, outcome: "evaluated")
        telemetry.counter(GenAIMetricSet.consistencySamples, unit: "{sample}", [
            (GenAIAttributes.archwayRouteName, sample.route),
            (GenAIAttributes.archwayModel, answer.model),
            (GenAIAttributes.evaluationScoreLabel, label),
        ]).increment()
        if let mean = summary.mean {
            telemetry.gauge(GenAIMetricSet.consistencyScore, unit: "1", [
                (GenAIAttributes.archwayRouteName, sample.route),
                (GenAIAttributes.archwayModel, answer.model),
            ]).record(mean)
        }
        if changed {
            let mean = summary.mean.map { String(format2: $0) } ?? "none"
            if summary.eligible {
                logger.info("model is consistent again and back in its route", metadata: [
                    "archway.model": "\(answer.model)", "archway.route.name": "\(sample.route)", "archway.consistency.score": "\(mean)",
                ])
            } else {
                logger.warning("model left out of its route: its answers no longer agree with the reference", metadata: [
                    "archway.model": "\(answer.model)", "archway.route.name": "\(sample.route)",
                    "archway.consistency.reference": "\(settings.reference)", "archway.consistency.score": "\(mean)",
                ])
            }
        }
    }

    /// The first choice's text, decoded from relayed bytes when need be; nil for a tool call (nothing to compare).
    static func text(of answer: Relayable<ChatResponse>) -> String? {
        guard let message = OpenAIChatResponse.content(of: answer)?.choices.first?.message, message.toolCalls.isEmpty else { return nil }
        return message.text
    }

    private func count(_ route: String, outcome: String) {
        executor.telemetry.counter(GenAIMetricSet.shadowSamples, unit: "{sample}", [
            (GenAIAttributes.archwayRouteName, route),
            ("outcome", outcome),
        ]).increment()
    }
}

extension String {
    /// Two decimals, without Foundation's formatting.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
