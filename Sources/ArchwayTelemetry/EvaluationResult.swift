/// One evaluation of a model's answer: what a `gen_ai.evaluation.result` event carries.
public struct EvaluationResult: Sendable, Hashable {
    /// The event name the GenAI conventions give evaluation results.
    public static let eventName = "gen_ai.evaluation.result"

    /// `gen_ai.evaluation.name` (`archway.consistency`).
    public var name: String
    /// `gen_ai.evaluation.score.value`, in 0...1.
    public var score: Double
    /// `gen_ai.evaluation.score.label`: low-cardinality (`consistent`, `inconsistent`).
    public var label: String
    /// `gen_ai.response.id` of the evaluated answer.
    public var responseID: String?
    /// The configured model whose answer was evaluated.
    public var model: String
    public var route: String?
    public var reference: String?
    public var explanation: String?

    public init(
        name: String,
        score: Double,
        label: String,
        responseID: String?,
        model: String,
        route: String? = nil,
        reference: String? = nil,
        explanation: String? = nil
    ) {
        self.name = name
        self.score = score
        self.label = label
        self.responseID = responseID
        self.model = model
        self.route = route
        self.reference = reference
        self.explanation = explanation
    }
}
