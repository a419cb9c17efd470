public import ArchwayCore

/// What one step did in a run.
public struct WorkflowStepResult: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case succeeded
        /// Failed with `on_error: fail` (the run fails).
        case failed
        /// Failed with `on_error: skip`: output null.
        case skipped
        /// Failed with `on_error: {default: …}`: output the default.
        case defaulted
        /// Stopped because the run failed or its deadline ran out.
        case cancelled
    }

    public var status: Status
    public var output: JSONValue?
    /// The configured model that answered (the last one, for a map step).
    public var model: String?
    public var usage: Usage?
    public var costUSD: Double
    public var duration: Duration
    /// Model calls made (retries and map items included).
    public var attempts: Int
    public var error: WorkflowRunError?
}

/// The outcome of a run: every step's result, the output when it succeeded, the failure otherwise.
public struct WorkflowResult: Sendable {
    public var workflow: String
    public var output: JSONValue?
    /// Steps that started, by name; `order` lists them in the workflow's order.
    public var steps: [String: WorkflowStepResult]
    public var order: [String]
    /// The run's trace, when the tracer propagates W3C trace context.
    public var traceID: String?
    /// The step that failed or was cut off, and why; nil when the run succeeded.
    public var failure: (step: String?, error: WorkflowRunError)?
    public var duration: Duration

    /// The error a client gets for a failed run: 504 naming the step the deadline cut off, 400 for an input
    /// of the wrong shape, otherwise the failed step's call error status (502 for an answer the workflow
    /// could not use).
    public var clientError: GatewayError? {
        guard let (step, error) = failure else { return nil }
        // The caller left (499 for spans and metrics, which no client reads), or the shutdown cut the run (503).
        if let closed = error.clientClosed { return closed }
        let name = step.map { "'\($0)'" } ?? "(none running)"
        if let refusal = error.policyRefusal {
            // The client's input was refused before it left: the client's to fix, as on the chat route.
            return GatewayError(
                status: .badRequest,
                type: "invalid_request_error",
                code: "policy_violation",
                message: "Workflow '\(workflow)' was refused in step \(name): \(refusal.message)",
                shortDescription: "policy_violation"
            )
        }
        if error.isDeadline {
            return GatewayError(
                status: .gatewayTimeout,
                type: "timeout_error",
                code: "workflow_deadline_exceeded",
                message: "Workflow '\(workflow)' ran out of its deadline in step \(name).",
                shortDescription: "deadline_exceeded"
            )
        }
        if let input = error.unusableInput {
            return GatewayError(
                status: .badRequest,
                type: "invalid_request_error",
                code: "invalid_input",
                param: input,
                message: "Workflow '\(workflow)' cannot use its input in step \(name): \(error.description).",
                shortDescription: "invalid_input"
            )
        }
        return GatewayError(
            status: error.callStatus ?? .badGateway,
            type: "upstream_error",
            code: "workflow_step_failed",
            message: "Workflow '\(workflow)' failed in step \(name): \(error.description)",
            shortDescription: "workflow_step_failed"
        )
    }
}

/// Progress of a run, for streamed runs (`"stream": true`).
public enum WorkflowEvent: Sendable {
    case stepStarted(String)
    case stepFinished(String, WorkflowStepResult)
}
