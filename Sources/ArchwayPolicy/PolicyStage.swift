public import ArchwayConfig
public import ArchwayCore
public import ArchwayExecution
public import ArchwayTelemetry
public import Logging
import Tracing

/// The policy point before egress, as a stage of the execution layer: for every ingress (OpenAI,
/// Anthropic, workflows), before any byte leaves for a provider, it scores the prompt for injection and
/// finds personal data and secrets in every text the request carries (system prompt, user and assistant
/// text, parts of any type, tool-call arguments and tool results, `user`, `metadata` and the other fields
/// passed through; see `ChatRequest.forEachReadableText`); after the answer it restores what it redacted.
///
/// Each decision is an INTERNAL span `apply_guardrail {pii|injection}` (`gen_ai.operation.name =
/// apply_guardrail`, `gen_ai.guardrail.*`) and counted in `archway.policy.detections`; no detected value
/// is ever recorded, only its kind. A failure of the stage itself refuses the call (503 `stage_failed`):
/// a request is never sent unredacted.
public struct PolicyStage: CallStage {
    public let name = "policy"
    let pii: PolicyConfiguration.PII?
    let injection: PolicyConfiguration.Injection?
    let scanner: PIIScanner?
    let scorer = InjectionScorer()
    /// Models and routes with `policy: none`.
    let exempt: Set<String>
    let telemetry: GenAITelemetry
    let logger: Logger

    public init(configuration: GatewayConfiguration, telemetry: GenAITelemetry, logger: Logger) throws {
        let policy = configuration.policy ?? PolicyConfiguration()
        self.pii = policy.pii
        self.injection = policy.injection
        self.scanner = try policy.pii.map(Self.scanner)
        self.exempt = Set(configuration.models.filter(\.policyExempt).map(\.name)).union(configuration.routes.filter(\.policyExempt).map(\.name))
        self.telemetry = telemetry
        self.logger = logger
    }

    static func scanner(_ pii: PolicyConfiguration.PII) throws -> PIIScanner {
        try PIIScanner(kinds: Set(pii.entities.map(PIIKind.init)), custom: pii.custom.map { ($0.name, $0.pattern) })
    }

    /// The masking applied to what spans carry of a request's text when a PII policy is configured (or
    /// `capture_content: redacted` asks for one): captured content, and the request values always on a
    /// span (stop sequences, the conversation id). Every finding becomes `[[LABEL]]`, so under `detect`
    /// too no detected value reaches a span.
    public static func contentFilter(for configuration: GatewayConfiguration) throws -> (@Sendable (String) -> String)? {
        let redacted = configuration.telemetry.captureContent && configuration.telemetry.captureRedacted
        guard let pii = configuration.policy?.pii ?? (redacted ? PolicyConfiguration.PII() : nil) else { return nil }
        let scanner = try scanner(pii)
        return { text in
            let findings = scanner.scan(text)
            guard !findings.isEmpty else { return text }
            var session = RedactionSession(mode: .mask, texts: [])
            return session.redact(text, findings: findings)
        }
    }

    /// A model or route with `policy: none` is left alone, its bytes relayed as without a policy.
    public func readsContent(ofCallsTo model: String) -> Bool {
        !exempt.contains(model)
    }

    public func beforeCall(_ request: ChatRequest, scope: CallScope) async throws -> BeforeCallDecision {
        guard !exempt.contains(scope.model), scope.purpose != ModelCallTarget.probePurpose else { return .proceed }
        if let injection, scope.purpose != ModelCallTarget.shadowPurpose {
            try checkInjection(request, settings: injection, scope: scope)
        }
        guard let pii, let scanner else { return .proceed }
        return try applyPII(request, settings: pii, scanner: scanner, scope: scope)
    }

    /// An embeddings request's inputs go through the PII policy as a chat's messages do: found values are
    /// counted, refused (`block`) or replaced by placeholders (`redact`, `mask`: an embedding is of the
    /// text as it left). Token-array inputs cannot be read, so a policy that would change or refuse what it
    /// finds refuses them. Injection is not scored: an embedding model follows no instructions, and
    /// documents indexed for retrieval may well quote one.
    public func beforeEmbeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingRequest {
        guard !exempt.contains(scope.model), scope.purpose != ModelCallTarget.probePurpose, let pii, let scanner else { return request }
        guard var texts = request.texts else {
            guard pii.action == .detect else {
                throw Self.violation("token-array inputs cannot be checked for personal data; send the input as text, or exempt the model with `policy: none`")
            }
            return request
        }
        let inputs = texts.count
        // The end-user id leaves too, as a chat's `user` does.
        if let user = request.user { texts.append(user) }
        let span = guardrailSpan("pii", scope: scope)
        defer { span.end() }
        var session = RedactionSession(mode: pii.action == .mask ? .mask : .redact, texts: texts)
        var redacted: [String] = []
        redacted.reserveCapacity(texts.count)
        var kinds: [PIIKind] = []
        var total = 0
        for text in texts {
            let findings = scanner.scan(text)
            total += findings.count
            for finding in findings where !kinds.contains(finding.kind) { kinds.append(finding.kind) }
            redacted.append(findings.isEmpty ? text : session.redact(text, findings: findings))
        }
        try record(pii: pii, total: total, kinds: kinds, on: span)
        guard total > 0, pii.action == .mask || pii.action == .redact else { return request }
        var rewritten = request
        if case .string = request.input {
            rewritten.input = .string(redacted[0])
        } else {
            rewritten.input = .array(redacted.prefix(inputs).map(JSONValue.string))
        }
        if request.user != nil { rewritten.user = redacted.last }
        return rewritten
    }

    // MARK: - Injection

    func checkInjection(_ request: ChatRequest, settings: PolicyConfiguration.Injection, scope: CallScope) throws {
        // What a user or a document says: the system prompt is the application's own.
        var best = InjectionScorer.Result(score: 0, reasons: [])
        for message in request.messages where message.role == .user || message.role == .tool {
            let result = scorer.score(message.readableText)
            if result.score > best.score { best = result }
        }
        let detected = best.score >= settings.threshold
        let action = detected ? settings.action.rawValue : "allow"
        let span = guardrailSpan("injection", scope: scope)
        span.modifyAttributes { attributes in
            // `flag` lets the request go on, as it was: allowed, with the finding reported.
            attributes.set(GenAIAttributes.guardrailVerdictType, detected && settings.action == .block ? "deny" : "allow")
            attributes.set(GenAIAttributes.guardrailActionType, detected && settings.action == .block ? "block" : "allow")
            if detected { attributes.set(GenAIAttributes.guardrailRiskCategory, "prompt_injection") }
            attributes.set(GenAIAttributes.guardrailRiskScore, best.score)
            attributes.set(GenAIAttributes.archwayPolicyAction, action)
            if detected { attributes.set(GenAIAttributes.guardrailVerdictReason, Array(Set(best.reasons)).sorted().joined(separator: ",")) }
        }
        if detected {
            count("injection", entity: "prompt_injection", action: settings.action.rawValue)
            if settings.action == .flag {
                logger.warning("prompt injection flagged", metadata: [GenAIAttributes.archwayModel: "\(scope.model)", "score": "\(best.score)"])
            }
        }
        if detected, settings.action == .block {
            // The guardrail worked: its span is no error (the request's SERVER span says 400).
            span.end()
            throw GatewayError(
                status: .badRequest,
                type: "invalid_request_error",
                code: "policy_violation",
                message: "The request was refused by policy: it reads as a prompt injection (score \(Double(Int(best.score * 100)) / 100) ≥ \(settings.threshold)). Nothing was sent to the model.",
                shortDescription: "policy_violation"
            )
        }
        span.end()
    }

    // MARK: - PII

    func applyPII(_ request: ChatRequest, settings: PolicyConfiguration.PII, scanner: PIIScanner, scope: CallScope) throws -> BeforeCallDecision {
        let span = guardrailSpan("pii", scope: scope)
        defer { span.end() }
        // Every text the request carries, scanned once; the rewrite visits them in the same order.
        var texts: [String] = []
        var found: [[PIIFinding]] = []
        var kinds: [PIIKind] = []
        var total = 0
        request.forEachReadableText { text in
            let findings = scanner.scan(text)
            texts.append(text)
            found.append(findings)
            total += findings.count
            for finding in findings where !kinds.contains(finding.kind) { kinds.append(finding.kind) }
        }
        var session = RedactionSession(mode: settings.action == .mask ? .mask : .redact, texts: total > 0 ? texts : [])
        var rewritten = request
        if total > 0, settings.action == .mask || settings.action == .redact {
            var next = 0
            rewritten.rewriteReadableText { text in
                defer { next += 1 }
                return found[next].isEmpty ? text : session.redact(text, findings: found[next])
            }
        }
        try record(pii: settings, total: total, kinds: kinds, on: span)
        guard total > 0 else { return .proceed }
        switch settings.action {
        case .detect, .block:
            return .proceed
        case .mask:
            return .rewrite(rewritten)
        case .redact:
            return .rewrite(rewritten, answers: PlaceholderRestoration(session: session, contentIsJSON: request.responseFormat != nil && request.outputType == "json"))
        }
    }

    /// Records a PII decision on its span and in the detections counter; throws `policy_violation` when
    /// the policy blocks what was found.
    func record(pii settings: PolicyConfiguration.PII, total: Int, kinds: [PIIKind], on span: any Span) throws {
        let found = total > 0
        let modified = found && (settings.action == .redact || settings.action == .mask)
        span.modifyAttributes { attributes in
            // The conventions' verdicts: `modify` for content that goes on redacted or masked, `deny` for a
            // block; `detect` lets it go on as it was.
            attributes.set(GenAIAttributes.guardrailVerdictType, modified ? "modify" : found && settings.action == .block ? "deny" : "allow")
            attributes.set(GenAIAttributes.guardrailActionType, !found || settings.action == .detect ? "allow" : settings.action == .block ? "block" : "modify")
            if modified { attributes.set(GenAIAttributes.guardrailContentModified, true) }
            if found { attributes.set(GenAIAttributes.guardrailRiskCategory, "sensitive_info_disclosure") }
            attributes.set(GenAIAttributes.archwayPolicyAction, found ? settings.action.rawValue : "allow")
            attributes.set(GenAIAttributes.archwayPolicyFindings, total)
            if found { attributes.set(GenAIAttributes.guardrailVerdictReason, kinds.map(\.name).joined(separator: ",")) }
        }
        guard found else { return }
        for kind in kinds { count("pii", entity: kind.name, action: settings.action.rawValue) }
        guard settings.action == .block else { return }
        throw Self.violation("it contains \(kinds.map(\.name).joined(separator: ", "))")
    }

    static func violation(_ reason: String) -> GatewayError {
        GatewayError(
            status: .badRequest,
            type: "invalid_request_error",
            code: "policy_violation",
            message: "The request was refused by policy: \(reason). Nothing was sent to the model.",
            shortDescription: "policy_violation"
        )
    }

    // MARK: - Telemetry

    func guardrailSpan(_ component: String, scope: CallScope) -> any Span {
        let span = telemetry.tracer.startSpan("apply_guardrail \(component)", context: scope.context, ofKind: .internal)
        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.operationName, "apply_guardrail")
            attributes.set(GenAIAttributes.guardrailComponentName, component)
            attributes.set(GenAIAttributes.guardrailTargetType, "input")
            attributes.set(GenAIAttributes.guardrailTargetSubtype, "llm")
        }
        return span
    }

    func count(_ guardrail: String, entity: String, action: String) {
        telemetry.counter(GenAIMetricSet.policyDetections, unit: "{detection}", [
            (GenAIAttributes.archwayPolicyGuardrail, guardrail),
            (GenAIAttributes.archwayPolicyEntity, entity),
            (GenAIAttributes.archwayPolicyAction, action),
        ]).increment()
    }
}
