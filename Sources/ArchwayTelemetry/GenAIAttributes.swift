/// Attribute keys Archway emits. One table, so a convention change is a one-file change.
///
/// `swift-otel-semantic-conventions` marks every `gen_ai` key deprecated (they moved to the GenAI
/// conventions repository), so Archway keeps its own copy of the names it uses.
public enum GenAIAttributes {
    public static let operationName = "gen_ai.operation.name"
    public static let providerName = "gen_ai.provider.name"
    public static let requestModel = "gen_ai.request.model"
    public static let requestTemperature = "gen_ai.request.temperature"
    public static let requestTopP = "gen_ai.request.top_p"
    public static let requestTopK = "gen_ai.request.top_k"
    public static let requestMaxTokens = "gen_ai.request.max_tokens"
    public static let requestStopSequences = "gen_ai.request.stop_sequences"
    public static let requestSeed = "gen_ai.request.seed"
    public static let requestFrequencyPenalty = "gen_ai.request.frequency_penalty"
    public static let requestPresencePenalty = "gen_ai.request.presence_penalty"
    public static let requestChoiceCount = "gen_ai.request.choice.count"
    public static let requestStream = "gen_ai.request.stream"
    public static let requestEncodingFormats = "gen_ai.request.encoding_formats"
    public static let responseID = "gen_ai.response.id"
    public static let responseModel = "gen_ai.response.model"
    public static let responseFinishReasons = "gen_ai.response.finish_reasons"
    public static let responseTimeToFirstChunk = "gen_ai.response.time_to_first_chunk"
    public static let usageInputTokens = "gen_ai.usage.input_tokens"
    public static let usageOutputTokens = "gen_ai.usage.output_tokens"
    public static let usageCacheReadInputTokens = "gen_ai.usage.cache_read.input_tokens"
    public static let usageCacheWriteInputTokens = "gen_ai.usage.cache_write.input_tokens"
    public static let usageReasoningOutputTokens = "gen_ai.usage.reasoning.output_tokens"
    public static let outputType = "gen_ai.output.type"
    public static let conversationID = "gen_ai.conversation.id"
    public static let embeddingsDimensionCount = "gen_ai.embeddings.dimension.count"
    public static let tokenType = "gen_ai.token.type"
    public static let tokenModality = "gen_ai.token.modality"
    public static let inputMessages = "gen_ai.input.messages"
    public static let outputMessages = "gen_ai.output.messages"
    public static let systemInstructions = "gen_ai.system_instructions"
    public static let toolDefinitions = "gen_ai.tool.definitions"
    public static let evaluationName = "gen_ai.evaluation.name"
    public static let evaluationScoreValue = "gen_ai.evaluation.score.value"
    public static let evaluationScoreLabel = "gen_ai.evaluation.score.label"
    public static let evaluationExplanation = "gen_ai.evaluation.explanation"
    public static let guardrailComponentName = "gen_ai.guardrail.component.name"
    public static let guardrailTargetType = "gen_ai.guardrail.target.type"
    public static let guardrailTargetSubtype = "gen_ai.guardrail.target.subtype"
    public static let guardrailVerdictType = "gen_ai.guardrail.verdict.type"
    public static let guardrailVerdictReason = "gen_ai.guardrail.verdict.reason"
    public static let guardrailActionType = "gen_ai.guardrail.action.type"
    public static let guardrailContentModified = "gen_ai.guardrail.security.content.modified"
    public static let guardrailRiskCategory = "gen_ai.guardrail.security.risk.category"
    public static let guardrailRiskScore = "gen_ai.guardrail.security.risk.score"

    public static let serverAddress = "server.address"
    public static let serverPort = "server.port"
    public static let httpConnectionState = "http.connection.state"
    /// `process.cpu.time`'s mode: `user` or `system`.
    public static let cpuMode = "cpu.mode"
    public static let errorType = "error.type"

    public static let httpRequestMethod = "http.request.method"
    public static let httpRequestMethodOriginal = "http.request.method_original"
    public static let httpResponseStatusCode = "http.response.status_code"
    public static let httpRoute = "http.route"
    public static let httpRequestResendCount = "http.request.resend_count"
    public static let urlFull = "url.full"
    public static let urlPath = "url.path"
    public static let urlScheme = "url.scheme"
    public static let networkProtocolVersion = "network.protocol.version"
    public static let userAgentOriginal = "user_agent.original"
    public static let clientAddress = "client.address"
    public static let clientPort = "client.port"
    public static let networkPeerAddress = "network.peer.address"
    public static let networkPeerPort = "network.peer.port"

    /// Gateway facts, under `archway.*`.
    public static let archwayModel = "archway.model"
    public static let archwayProvider = "archway.provider"
    public static let archwayCostUSD = "archway.cost.usd"
    public static let archwayAttempts = "archway.attempts"
    public static let archwayRouteName = "archway.route.name"
    public static let archwayRouteStrategy = "archway.route.strategy"
    public static let archwayRouteChosen = "archway.route.chosen"
    public static let archwayRouteReason = "archway.route.reason"
    public static let archwayRouteMinQuality = "archway.route.min_quality"
    public static let archwayRouteCandidates = "archway.route.candidates"
    public static let archwayRouteEstimatedCostUSD = "archway.route.estimated_cost_usd"
    public static let archwayRouteFallbacks = "archway.route.fallbacks"
    /// `true` when the route's retry budget stopped it before another candidate was tried.
    public static let archwayRouteRetryBudgetExhausted = "archway.route.retry_budget_exhausted"
    /// Why a call was made when not for a client (`probe`, `shadow`).
    public static let archwayCallPurpose = "archway.call.purpose"
    /// On shadow calls (consistency samples): true, and a link to the call they evaluate.
    public static let archwayShadow = "archway.shadow"
    /// On evaluation events: the reference model the answer was compared with.
    public static let archwayConsistencyReference = "archway.consistency.reference"
    public static let archwayWire = "archway.wire"
    /// The policy stage: on its guardrail spans (the action taken, how many values were found) and as
    /// the labels of `archway.policy.detections`.
    public static let archwayPolicyAction = "archway.policy.action"
    public static let archwayPolicyFindings = "archway.policy.findings"
    public static let archwayPolicyGuardrail = "archway.policy.guardrail"
    public static let archwayPolicyEntity = "archway.policy.entity"
    /// Workflows: the run's span (`invoke_workflow {name}`) and each step's.
    public static let workflowName = "gen_ai.workflow.name"
    public static let archwayWorkflowStepName = "archway.workflow.step.name"
    public static let archwayWorkflowStepStatus = "archway.workflow.step.status"
    public static let archwayWorkflowStepAttempts = "archway.workflow.step.attempts"
    public static let archwayWorkflowStepCostUSD = "archway.workflow.step.cost_usd"
    public static let archwayWorkflowStepModel = "archway.workflow.step.model"
    public static let archwayWorkflowStepItems = "archway.workflow.step.items"
}

/// `gen_ai.operation.name` values Archway reports.
public enum GenAIOperation: String, Sendable, Hashable {
    case chat
    case embeddings
    case invokeWorkflow = "invoke_workflow"
}
