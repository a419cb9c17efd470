import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayTelemetry
import ArchwayWire
import ArchwayWorkflows
import HTTPTypes
import Hummingbird
import NIOCore
import Tracing

/// `GET /v1/workflows`, `POST /v1/workflows/{name}/runs` (JSON, or SSE progress with `"stream": true`),
/// and a workflow as the model `workflow/{name}` on the chat ingresses.
///
/// A class: every route's closure holds `GatewayRoutes`, which holds this; as a struct its tables and
/// runner were retained one by one each time a request copied it (about 7 retains a chat request).
final class WorkflowRoutes: Sendable {
    let runner: WorkflowRunner
    let workflows: [String: WorkflowConfiguration]
    let order: [String]

    init(runner: WorkflowRunner, workflows: [WorkflowConfiguration]) {
        self.runner = runner
        self.workflows = Dictionary(workflows.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.order = workflows.map(\.name)
    }

    func register(on router: Router<GatewayRequestContext>, body: @escaping @Sendable (Request) async throws -> ByteBuffer) {
        router.get("/v1/workflows") { _, _ in try self.list() }
        router.post("/v1/workflows/{name}/runs") { request, context in
            try await self.run(request, context: context, body: try await body(request))
        }
    }

    func workflow(named name: String) throws(GatewayError) -> WorkflowConfiguration {
        guard let workflow = workflows[name] else {
            throw GatewayError(
                status: .notFound,
                type: "invalid_request_error",
                code: "workflow_not_found",
                message: "The workflow '\(name.prefix(200))' is not configured on this gateway.",
                shortDescription: "workflow_not_found"
            )
        }
        return workflow
    }

    func list() throws -> Response {
        let data = order.compactMap { workflows[$0] }.map { workflow -> JSONValue in
            .object([
                "name": .string(workflow.name),
                "model": .string(workflow.modelName),
                "inputs": .array(workflow.inputs.map(JSONValue.string)),
                "deadline_ms": .number(Double(workflow.deadline.milliseconds)),
                "steps": .array(workflow.steps.map { .string($0.name) }),
            ])
        }
        return Response.json(try WireJSON.encode(JSONValue.object(["object": .string("list"), "data": .array(data)])))
    }

    func run(_ request: Request, context: GatewayRequestContext, body: ByteBuffer) async throws -> Response {
        let workflow = try workflow(named: context.parameters.get("name") ?? "")
        let document = try WireJSON.decodeRequest(JSONValue.self, from: body)
        guard case .object(let fields) = document else { throw GatewayError.invalidRequest("The body must be a JSON object with 'inputs'.", code: "invalid_type") }
        var inputs: [String: JSONValue] = [:]
        switch fields["inputs"] {
        case .object(let object)?: inputs = object
        case nil, .null?: break
        default: throw GatewayError.invalidRequest("'inputs' must be an object.", param: "inputs", code: "invalid_type")
        }
        try WorkflowRunner.validate(inputs, for: workflow)
        let parent = context.serviceContext
        context.serverSpan?.modifyAttributes { $0.set(GenAIAttributes.workflowName, workflow.name) }
        if case .bool(true)? = fields["stream"] {
            return streamed(workflow, inputs: inputs, parent: parent, context: context)
        }
        let result = try await ClientConnection.run(on: context.client) {
            await runner.run(workflow, inputs: inputs, context: parent, cancellation: context.client)
        }
        return try Self.response(result)
    }

    /// The run's document: `{output, steps, trace_id}`, or with `error` and the status of the failure.
    static func response(_ result: WorkflowResult) throws -> Response {
        let document = Self.document(result)
        let status = result.clientError?.status ?? .ok
        return Response.json(try WireJSON.encode(document), status: status)
    }

    static func document(_ result: WorkflowResult) -> JSONValue {
        var steps: [String: JSONValue] = [:]
        for name in result.order {
            if let step = result.steps[name] { steps[name] = Self.json(step) }
        }
        var document: [String: JSONValue] = [
            "workflow": .string(result.workflow),
            "steps": .object(steps),
            "trace_id": result.traceID.map(JSONValue.string) ?? .null,
            "duration_ms": .number(Double(result.duration.milliseconds)),
        ]
        if let error = result.clientError {
            document["error"] = .object([
                "message": .string(error.message),
                "type": .string(error.type),
                "param": error.param.map(JSONValue.string) ?? .null,
                "code": error.code.map(JSONValue.string) ?? .null,
                "step": result.failure?.step.map(JSONValue.string) ?? .null,
            ])
        } else {
            document["output"] = result.output ?? .null
        }
        return .object(document)
    }

    static func json(_ step: WorkflowStepResult) -> JSONValue {
        .object([
            "status": .string(step.status.rawValue),
            "output": step.output ?? .null,
            "model": step.model.map(JSONValue.string) ?? .null,
            "usage": step.usage.map { .object(["input_tokens": .number(Double($0.inputTokens)), "output_tokens": .number(Double($0.outputTokens))]) } ?? .null,
            "cost_usd": .number(step.costUSD),
            "duration_ms": .number(Double(step.duration.milliseconds)),
            "attempts": .number(Double(step.attempts)),
            "error": step.error.map { .object(["type": .string($0.shortDescription), "message": .string($0.description)]) } ?? .null,
        ])
    }

    /// SSE: `step.started`, `step.finished` / `step.failed` as they happen, then `result` (or `error`).
    func streamed(_ workflow: WorkflowConfiguration, inputs: [String: JSONValue], parent: ServiceContext, context: GatewayRequestContext) -> Response {
        let (events, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let runner = self.runner
        let client = context.client
        let task = Task {
            let result = await runner.run(workflow, inputs: inputs, context: parent, cancellation: client) { event in
                switch event {
                case .stepStarted(let step):
                    continuation.yield(Self.event("step.started", .object(["step": .string(step)])))
                case .stepFinished(let step, let outcome):
                    var json = Self.json(outcome)
                    if case .object(var fields) = json { fields["step"] = .string(step); json = .object(fields) }
                    let failed = outcome.status == .failed || outcome.status == .cancelled
                    continuation.yield(Self.event(failed ? "step.failed" : "step.finished", json))
                }
            }
            continuation.yield(Self.event(result.clientError == nil ? "result" : "error", Self.document(result)))
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let serverSpanEnd = context.serverSpanEnd
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // The writer waits on the connection: a client that leaves cancels it at once, which ends the
            // event stream and so the run, rather than at the next event's failed write.
            defer { task.cancel() }
            do {
                try await ClientConnection.run(on: client) {
                    for await event in events {
                        try Task.checkCancellation()
                        try await writer.write(event)
                    }
                    try Task.checkCancellation()
                    try await writer.finish(nil)
                }
            } catch {
                let cause = client?.cancellationError ?? .clientClosed
                if cause.isShuttingDown {
                    // The shutdown cut the run: the client is still there, and is told so, as a chat stream's is.
                    serverSpanEnd?.fail(cause.shortDescription, isError: true)
                    try await writer.write(Self.event("error", .object(["error": .object([
                        "message": .string(cause.message), "type": .string(cause.type), "code": .string(cause.code ?? ""),
                    ])])))
                    try await writer.finish(nil)
                    return
                }
                serverSpanEnd?.fail(cause.shortDescription, isError: false)
                throw error
            }
        })
    }

    static func event(_ name: String, _ data: JSONValue) -> ByteBuffer {
        var buffer = ByteBuffer(string: "event: \(name)\ndata: ")
        var json = (try? WireJSON.encode(data)) ?? ByteBuffer(string: "{}")
        buffer.writeBuffer(&json)
        buffer.writeString("\n\n")
        return buffer
    }

    // MARK: - A workflow as a model

    /// The inputs a chat message gives a workflow: for one that takes `input` (or nothing), the message
    /// itself; for one with other inputs, the message as a JSON object of them
    /// (`{"customer": "…", "product": "…"}`), which a chat client can send as its text.
    static func chatInputs(_ text: String, for workflow: WorkflowConfiguration) throws(GatewayError) -> [String: JSONValue] {
        let named = workflow.inputs.filter { $0 != "input" }
        guard !named.isEmpty else { return ["input": .string(text)] }
        guard let document = try? WireJSON.decoder.decode(JSONValue.self, from: ByteBuffer(string: text)),
              case .object(var inputs) = document else {
            let shape = named.map { "\"\($0)\": …" }.joined(separator: ", ")
            throw GatewayError.invalidRequest(
                "Workflow '\(workflow.name)' takes the inputs \(named.map { "'\($0)'" }.joined(separator: ", ")): send the last user message as a JSON object, {\(shape)}.",
                param: "messages",
                code: "missing_input"
            )
        }
        if workflow.inputs.contains("input"), inputs["input"] == nil { inputs["input"] = .string(text) }
        return inputs
    }

    /// Runs `workflow/{name}` for a chat request, the output the assistant's message (text as it is,
    /// anything else as JSON). The last user message gives the inputs (`chatInputs`).
    func chat(_ request: ChatRequest, context: GatewayRequestContext) async throws -> ChatResponse {
        let name = String(request.model.dropFirst(WorkflowConfiguration.modelPrefix.count))
        guard let workflow = workflows[name] else { throw GatewayError.modelNotFound(request.model) }
        let inputs = try Self.chatInputs(request.messages.last { $0.role == .user }?.text ?? "", for: workflow)
        try WorkflowRunner.validate(inputs, for: workflow)
        context.serverSpan?.modifyAttributes { $0.set(GenAIAttributes.workflowName, workflow.name) }
        let parent = context.serviceContext
        let result = try await ClientConnection.run(on: context.client) {
            await runner.run(workflow, inputs: inputs, context: parent, cancellation: context.client)
        }
        if let error = result.clientError { throw error }
        let content: String
        switch result.output ?? .null {
        case .string(let string): content = string
        case let other: content = jsonText(other)
        }
        var usage = Usage(inputTokens: 0, outputTokens: 0)
        for step in result.steps.values {
            usage.inputTokens += step.usage?.inputTokens ?? 0
            usage.outputTokens += step.usage?.outputTokens ?? 0
        }
        return ChatResponse(
            id: "chatcmpl-wf-" + (result.traceID ?? String(UInt64.random(in: 0...UInt64.max), radix: 16)),
            model: request.model,
            created: currentUnixSeconds(),
            choices: [ChatResponse.Choice(index: 0, message: .text(.assistant, content), finishReason: .stop)],
            usage: usage
        )
    }
}
