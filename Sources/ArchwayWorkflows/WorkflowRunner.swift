public import ArchwayConfig
public import ArchwayCore
public import ArchwayExecution
import ArchwayTelemetry
import ArchwayWire
import Foundation
public import Tracing

/// Runs workflows: a DAG of steps, each one or more model calls through the execution layer (routed,
/// retried, policed and recorded like any request), under one deadline.
///
/// A step starts as soon as every step it depends on has finished; independent steps run at once. Each
/// call gets at most what is left of the run's budget (and of the step's `timeout_ms`). When the
/// deadline runs out the running steps are cancelled, their upstream requests with them, and the run
/// fails naming the step that was cut off, with the results of those that finished.
///
/// Traced per the GenAI conventions: an INTERNAL span `invoke_workflow {name}` for the run, an INTERNAL
/// child span per step (`archway.workflow.step.*`), and the usual GenAI CLIENT spans under each step.
public struct WorkflowRunner: Sendable {
    let executor: ModelCallExecutor
    let clock: any GatewayClock

    public init(executor: ModelCallExecutor, clock: any GatewayClock = SystemClock()) {
        self.executor = executor
        self.clock = clock
    }

    var telemetry: GenAITelemetry { executor.telemetry }

    /// Checks a run's inputs: every declared input present (400 naming the first missing one).
    public static func validate(_ inputs: [String: JSONValue], for workflow: WorkflowConfiguration) throws(GatewayError) {
        for name in workflow.inputs where inputs[name] == nil {
            throw GatewayError.invalidRequest("Workflow '\(workflow.name)' needs the input '\(name)'.", param: "inputs.\(name)", code: "missing_input")
        }
    }

    /// The latest a call of a step may run to: the run's deadline, or the step's own budget from its
    /// start when that ends sooner.
    public static func callDeadline(run: ContinuousClock.Instant, stepStart: ContinuousClock.Instant, timeout: Duration?) -> ContinuousClock.Instant {
        guard let timeout else { return run }
        return min(run, stepStart + timeout)
    }

    private enum Completion: Sendable {
        case step(String, WorkflowStepResult)
        case deadline
        case timerStopped
    }

    /// Runs `workflow` on validated `inputs`. Never throws: a failure is in the result.
    public func run(
        _ workflow: WorkflowConfiguration,
        inputs: [String: JSONValue],
        context: ServiceContext = .topLevel,
        deadline callerDeadline: ContinuousClock.Instant? = nil,
        cancellation caller: (any CancellationCause)? = nil,
        events: (@Sendable (WorkflowEvent) -> Void)? = nil
    ) async -> WorkflowResult {
        let start = clock.now
        let runDeadline = min(start + workflow.deadline, callerDeadline ?? start + workflow.deadline)
        let span = telemetry.tracer.startSpan("invoke_workflow \(workflow.name)", context: context, ofKind: .internal)
        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.operationName, GenAIOperation.invokeWorkflow.rawValue)
            attributes.set(GenAIAttributes.workflowName, workflow.name)
        }
        var result = WorkflowResult(
            workflow: workflow.name,
            output: nil,
            steps: [:],
            order: [],
            traceID: Self.traceID(of: span.context, tracer: telemetry.tracer),
            failure: nil,
            duration: .zero
        )
        var schedule = WorkflowSchedule(workflow)
        var values = WorkflowContext(inputs: inputs)
        var deadlineReached = false
        // Set before the run stops its steps for a failure, so they can tell that from their caller leaving.
        let stopping = RunStopping()

        await withTaskGroup(of: Completion.self) { group in
            let runContext = span.context
            func launch(_ names: [String], values: WorkflowContext) {
                for name in names {
                    guard let step = workflow.step(named: name) else { continue }
                    events?(.stepStarted(name))
                    group.addTask { .step(name, await runStep(step, workflow: workflow.name, values: values, parent: runContext, runDeadline: runDeadline, stopping: stopping, caller: caller)) }
                }
            }
            group.addTask { [clock] in
                let remaining = clock.now.duration(to: runDeadline)
                do {
                    try await Task.sleep(for: remaining)
                    return .deadline
                } catch {
                    return .timerStopped
                }
            }
            launch(schedule.start(), values: values)
            while let completion = await group.next() {
                switch completion {
                case .timerStopped:
                    continue
                case .deadline:
                    guard result.failure == nil else { continue }
                    deadlineReached = true
                    result.failure = (schedule.running.first, .deadline)
                    group.cancelAll()
                case .step(let name, var stepResult):
                    if deadlineReached || (result.failure != nil && stepResult.status == .failed) {
                        // Cut off by the deadline or stopped by another step's failure.
                        if stepResult.status != .succeeded { stepResult.status = .cancelled }
                    }
                    if stepResult.error?.isDeadline == true, result.failure == nil {
                        // The step's call ran into the run's deadline just before the timer fired.
                        deadlineReached = true
                        result.failure = (name, .deadline)
                        stepResult.status = .cancelled
                        group.cancelAll()
                    }
                    result.steps[name] = stepResult
                    events?(.stepFinished(name, stepResult))
                    let fails = stepResult.status == .failed
                    if fails, result.failure == nil, let error = stepResult.error {
                        result.failure = (name, error)
                        stopping.stop()
                        group.cancelAll()
                    }
                    if !deadlineReached, result.failure == nil {
                        values.outputs[name] = stepResult.output ?? .null
                    }
                    let ready = schedule.finished(name, failsRun: fails || deadlineReached || stepResult.status == .cancelled)
                    if result.failure == nil { launch(ready, values: values) }
                    if schedule.isComplete { group.cancelAll() }
                }
            }
        }

        result.order = workflow.steps.map(\.name).filter { result.steps[$0] != nil }
        if Task.isCancelled {
            // The caller went away, or the gateway's shutdown cut the run (its request's task was cancelled,
            // which stopped the steps): that is how the run ended, whatever the cancelled steps left their
            // followers to make of it (a template's missing value), and never a success.
            result.failure = (nil, .call(caller?.cancellationError ?? .clientClosed))
        }
        if result.failure == nil {
            do {
                result.output = try values.evaluate(workflow.output)
            } catch {
                result.failure = (nil, error)
            }
        }
        result.duration = start.duration(to: clock.now)
        var dimensions = [(GenAIAttributes.workflowName, workflow.name)]
        if let (_, error) = result.failure {
            dimensions.append((GenAIAttributes.errorType, error.shortDescription))
            span.modifyAttributes { $0.set(GenAIAttributes.errorType, error.shortDescription) }
            span.setStatus(SpanStatus(code: .error, message: error.spanDescription))
        }
        telemetry.histogram(GenAIMetricSet.workflowDuration, unit: "s", dimensions).record(result.duration.seconds)
        span.end()
        return result
    }

    // MARK: - Steps

    private func runStep(
        _ step: WorkflowStep,
        workflow: String,
        values: WorkflowContext,
        parent: ServiceContext,
        runDeadline: ContinuousClock.Instant,
        stopping: RunStopping,
        caller: (any CancellationCause)?
    ) async -> WorkflowStepResult {
        let span = telemetry.tracer.startSpan("workflow_step \(step.name)", context: parent, ofKind: .internal)
        let start = clock.now
        let deadline = Self.callDeadline(run: runDeadline, stepStart: start, timeout: step.timeout)
        // What a cancelled call of this step was stopped by, for its span and metrics: the run's deadline,
        // another step's failure, or (otherwise) the caller leaving.
        let cancellation = StepCancellation(clock: clock, runDeadline: runDeadline, stopping: stopping, caller: caller)
        let tally = StepTally()
        var result = WorkflowStepResult(status: .succeeded, output: nil, model: nil, usage: nil, costUSD: 0, duration: .zero, attempts: 0, error: nil)
        do {
            if let map = step.map, let reference = map.soleReference {
                guard case .array(let items)? = values.value(at: reference) else {
                    throw WorkflowRunError.notAList(reference.joined(separator: "."))
                }
                span.modifyAttributes { $0.set(GenAIAttributes.archwayWorkflowStepItems, items.count) }
                result.output = .array(try await mapItems(items, step: step, values: values, context: span.context, deadline: deadline, tally: tally, cancellation: cancellation))
            } else {
                result.output = try await call(step, values: values, context: span.context, deadline: deadline, tally: tally, cancellation: cancellation)
            }
        } catch {
            let failure = classify(error, deadline: deadline, runDeadline: runDeadline, caller: caller)
            result.error = failure
            if failure.isDeadline {
                // The run reports the deadline; this step was cut off by it (as the run's document, the span
                // and the metric all say).
                result.status = .cancelled
            } else if error is CancellationError || Task.isCancelled {
                result.status = .cancelled
                // Stopped because another step failed the run; otherwise the caller left (client_closed).
                if stopping.isStopping { result.error = .stopped }
            } else {
                switch step.onError {
                case .fail:
                    result.status = .failed
                case .skip:
                    result.status = .skipped
                    result.output = .null
                case .useDefault(let value):
                    result.status = .defaulted
                    result.output = value
                }
            }
        }
        let record = tally.record
        result.model = record.model
        result.usage = record.usage
        result.costUSD = record.cost
        result.attempts = record.attempts
        result.duration = start.duration(to: clock.now)

        span.modifyAttributes { attributes in
            attributes.set(GenAIAttributes.workflowName, workflow)
            attributes.set(GenAIAttributes.archwayWorkflowStepName, step.name)
            attributes.set(GenAIAttributes.archwayWorkflowStepStatus, result.status.rawValue)
            attributes.set(GenAIAttributes.archwayWorkflowStepAttempts, result.attempts)
            attributes.set(GenAIAttributes.archwayWorkflowStepCostUSD, result.costUSD)
            attributes.set(GenAIAttributes.archwayWorkflowStepModel, result.model)
        }
        if let error = result.error {
            span.modifyAttributes { $0.set(GenAIAttributes.errorType, error.shortDescription) }
            if result.status == .failed || result.status == .cancelled {
                span.setStatus(SpanStatus(code: .error, message: error.spanDescription))
            }
        }
        let dimensions = [(GenAIAttributes.workflowName, workflow), (GenAIAttributes.archwayWorkflowStepName, step.name)]
        telemetry.histogram(GenAIMetricSet.workflowStepDuration, unit: "s", dimensions + [(GenAIAttributes.archwayWorkflowStepStatus, result.status.rawValue)])
            .record(result.duration.seconds)
        if result.costUSD > 0 {
            telemetry.floatingCounter(GenAIMetricSet.workflowStepCost, unit: "USD", dimensions).increment(by: result.costUSD)
        }
        span.end()
        return result
    }

    /// What a step's failure was: a cancellation at or past the run's deadline is the deadline; past the
    /// step's own budget, its timeout.
    private func classify(_ error: any Error, deadline: ContinuousClock.Instant, runDeadline: ContinuousClock.Instant, caller: (any CancellationCause)?) -> WorkflowRunError {
        let now = clock.now
        if now >= runDeadline { return .deadline }
        if now >= deadline { return .timedOut }
        if let failure = error as? WorkflowRunError { return failure }
        if error is CancellationError { return .call(caller?.cancellationError ?? .clientClosed) }
        return .call(GatewayError(error))
    }

    /// One call per item, at most `max_parallel` at once; the outputs in the items' order.
    private func mapItems(
        _ items: [JSONValue],
        step: WorkflowStep,
        values: WorkflowContext,
        context: ServiceContext,
        deadline: ContinuousClock.Instant,
        tally: StepTally,
        cancellation: StepCancellation
    ) async throws -> [JSONValue] {
        try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            var outputs = [JSONValue](repeating: .null, count: items.count)
            var next = 0
            func add() {
                let index = next
                var itemValues = values
                itemValues.item = items[index]
                group.addTask { (index, try await call(step, values: itemValues, context: context, deadline: deadline, tally: tally, cancellation: cancellation)) }
                next += 1
            }
            while next < min(step.maxParallel, items.count) { add() }
            while let (index, output) = try await group.next() {
                outputs[index] = output
                if next < items.count { add() }
            }
            return outputs
        }
    }

    /// One model call of a step (with its retries): the rendered prompt to the step's model or route.
    private func call(
        _ step: WorkflowStep,
        values: WorkflowContext,
        context: ServiceContext,
        deadline: ContinuousClock.Instant,
        tally: StepTally,
        cancellation: StepCancellation
    ) async throws -> JSONValue {
        var messages: [ChatMessage] = []
        if let system = step.system { messages.append(.text(.system, try values.render(system))) }
        messages.append(.text(.user, try values.render(step.prompt)))
        var request = ChatRequest(model: step.model, messages: messages, temperature: step.temperature, maxTokens: step.maxTokens)
        if step.output == .json {
            request.responseFormat = step.schema.map { schema in
                .object(["type": .string("json_schema"), "json_schema": .object(["name": .string(step.name), "schema": schema])])
            } ?? .object(["type": .string("json_object")])
        }
        var attempt = 0
        while true {
            attempt += 1
            let decisions = CallDecisions(cancellation: cancellation)
            do {
                defer { tally.add(decisions.record) }
                let (response, _) = try await executor.answer(
                    Relayable(request),
                    scope: CallScope(model: step.model, context: context, deadline: deadline, decisions: decisions)
                )
                let answer = OpenAIChatResponse.content(of: response) ?? response.value
                tally.add(usage: answer.usage)
                let text = answer.choices.first?.message.text ?? ""
                guard step.output == .json else { return .string(text) }
                guard let value = Self.json(text) else { throw WorkflowRunError.invalidJSON }
                return value
            } catch {
                let failure = error as? WorkflowRunError ?? .call(GatewayError(error))
                guard !(error is CancellationError), !Task.isCancelled, attempt <= step.retries, failure.isRetryable,
                      clock.now < deadline else { throw error }
            }
        }
    }

    /// A JSON answer: the whole text, or the inside of a fenced ```json block (models add fences).
    static func json(_ text: String) -> JSONValue? {
        var body = Substring(text)
        if let fence = body.range(of: "```") {
            body = body[fence.upperBound...].drop { $0 != "\n" }
            if let end = body.range(of: "```") { body = body[..<end.lowerBound] }
        }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
    }

    /// The trace id, read the way W3C trace context propagates it (`traceparent`).
    static func traceID(of context: ServiceContext, tracer: any Tracer) -> String? {
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: DictionaryInjector())
        guard let parent = carrier["traceparent"] else { return nil }
        let parts = parent.split(separator: "-")
        return parts.count >= 2 && parts[1].count == 32 ? String(parts[1]) : nil
    }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}
