import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayRouting
import ArchwayWire
import ArchwayWorkflows
import HTTPTypes
import Hummingbird
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The client-facing API: OpenAI's chat completions, embeddings and models, and Anthropic's messages.
/// Each handler turns HTTP into a call (request + `CallScope`), hands it to the execution layer, and
/// turns the answer back into HTTP. Nothing here runs a model call itself.
struct GatewayRoutes: Sendable {
    static let anthropicBeta = HTTPField.Name("anthropic-beta")!

    let executor: ModelCallExecutor
    let catalog: ModelCatalog
    let maxBodyBytes: Int
    let state: GatewayState
    let workflows: WorkflowRoutes?

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/v1/chat/completions") { request, context in try await chatCompletions(request, context: context) }
        router.post("/v1/messages") { request, context in try await messages(request, context: context) }
        router.post("/v1/embeddings") { request, context in try await embeddings(request, context: context) }
        router.get("/v1/models") { _, _ in try models() }
        // `http.route` is `/v1/models/{model}` for an id without a slash; ids with one (`workflow/…`), sent
        // as they are, take the catch-all.
        router.get("/v1/models/{model}") { _, context in
            let id = context.parameters.get("model") ?? ""
            return try model(id.removingPercentEncoding ?? id)
        }
        router.get("/v1/models/{model}/**") { _, context in
            let id = ([Substring(context.parameters.get("model") ?? "")] + context.parameters.getCatchAll()).joined(separator: "/")
            return try model(id.removingPercentEncoding ?? id)
        }
        workflows?.register(on: router) { request in try await body(of: request) }
        router.get("/healthz") { _, _ in Response.json(ByteBuffer(string: #"{"status":"ok"}"#)) }
        router.get("/readyz") { _, _ in
            state.isReady
                ? Response.json(ByteBuffer(string: #"{"status":"ready"}"#))
                : Response.json(ByteBuffer(string: #"{"status":"not_ready"}"#), status: .serviceUnavailable)
        }
    }

    /// Collects the body within the configured limit. A body that cannot be read (a malformed chunked
    /// encoding, a connection reset mid-body) is the client's: 400, never 500.
    func body(of request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw GatewayError.payloadTooLarge(limit: maxBodyBytes)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw GatewayError.payloadTooLarge(limit: maxBodyBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError.invalidBody(String(describing: type(of: error)))
        }
        do {
            return try WireJSON.clientBody(body)
        } catch {
            // Looked for only once a body cannot be read: a compressed one is not UTF-8, and says why.
            if request.head.hasEncodedBody { throw GatewayError.encodedBody }
            throw error
        }
    }

    /// Runs a call for this request: cancelled when the client leaves, its routing decision reported on
    /// the SERVER span (and, through `headers`, on the answer) whether it succeeds or fails.
    func call<Value>(
        model: String,
        context: GatewayRequestContext,
        headers: inout HTTPFields,
        _ body: (CallScope) async throws -> Value
    ) async throws -> Value {
        let decisions = CallDecisions(cancellation: context.client)
        let scope = CallScope(model: model, context: context.serviceContext, decisions: decisions)
        defer { decisions.report(on: context.serverSpan, headers: &headers) }
        do {
            return try await ClientConnection.run(on: context.client) { try await body(scope) }
        } catch is CancellationError where context.client?.wasCut == true {
            // Cut by the gateway's shutdown: the client (still there) is told so.
            throw GatewayError.shuttingDown
        }
    }

    func chatCompletions(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let body = try await body(of: request)
        let chat = try OpenAIChatRequest.decode(from: body)
        var headers = HTTPFields()
        if let workflows, chat.model.hasPrefix(WorkflowConfiguration.modelPrefix) {
            let answer = try await workflows.chat(chat, context: context)
            if chat.stream {
                let stream = ModelStream(answered: answer, model: chat.model)
                return StreamRelay(stream: stream, wire: .openAI(includeUsage: chat.includeUsage), context: context).response(headers: headers)
            }
            return Response.json(try WireJSON.encode(OpenAIChatResponse(answer)), headers: headers)
        }
        let envelope = executor.envelope(chat, openAIBytes: body)
        if chat.stream {
            let stream = try await call(model: chat.model, context: context, headers: &headers) { scope in
                try await executor.stream(envelope, scope: scope)
            }
            return StreamRelay(stream: stream, wire: .openAI(includeUsage: chat.includeUsage), context: context).response(headers: headers)
        }
        let answer = try await call(model: chat.model, context: context, headers: &headers) { scope in
            try await executor.chat(envelope, scope: scope)
        }
        if let relayed = Self.relayed(answer, in: .openAI, headers: headers) { return relayed }
        return Response.json(try WireJSON.encode(OpenAIChatResponse(answer.value)), headers: headers)
    }

    /// The provider's answer as it sent it, named after the client's model, when it is still in the
    /// client's wire format; nil when it must be encoded.
    static func relayed(_ answer: Relayable<ChatResponse>, in format: WireBytes.Format, headers: HTTPFields) -> Response? {
        guard let wire = answer.wire, wire.format == format else { return nil }
        var out = ByteBuffer()
        out.reserveCapacity(wire.bytes.readableBytes + answer.value.model.utf8.count)
        OpenAIPassthrough.write(wire, model: answer.value.model, into: &out)
        return Response.json(out, headers: headers)
    }

    func messages(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let body = try await body(of: request)
        let chat = try WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: body).request
        var headers = HTTPFields()
        if let workflows, chat.model.hasPrefix(WorkflowConfiguration.modelPrefix) {
            var answer = try await workflows.chat(chat, context: context)
            if chat.stream {
                let stream = ModelStream(answered: answer, model: chat.model)
                return StreamRelay(stream: stream, wire: .anthropic, context: context).response(headers: headers)
            }
            answer.id = "msg_" + answer.id
            return Response.json(try WireJSON.encode(AnthropicMessagesResponse(answer)), headers: headers)
        }
        // An Anthropic-wire upstream gets the client's bytes, and the client the upstream's.
        let envelope = executor.envelope(chat, anthropicBytes: body, beta: request.headers[Self.anthropicBeta])
        if chat.stream {
            let stream = try await call(model: chat.model, context: context, headers: &headers) { scope in
                try await executor.stream(envelope, scope: scope)
            }
            return StreamRelay(stream: stream, wire: .anthropic, context: context).response(headers: headers)
        }
        let answer = try await call(model: chat.model, context: context, headers: &headers) { scope in
            try await executor.chat(envelope, scope: scope)
        }
        if let relayed = Self.relayed(answer, in: .anthropic, headers: headers) { return relayed }
        var response = answer.value
        if !response.id.hasPrefix("msg_") { response.id = "msg_" + response.id }
        return Response.json(try WireJSON.encode(AnthropicMessagesResponse(response)), headers: headers)
    }

    func embeddings(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let embedding = try WireJSON.decodeRequest(OpenAIEmbeddingRequest.self, from: try await body(of: request)).request
        var headers = HTTPFields()
        let response = try await call(model: embedding.model, context: context, headers: &headers) { scope in
            try await executor.embeddings(embedding, scope: scope)
        }
        return Response.json(try WireJSON.encode(OpenAIEmbeddingResponse(response)), headers: headers)
    }

    /// What clients may name as `model`: configured models, routes and workflows.
    var modelList: [OpenAIModelList.Model] {
        let models = catalog.names.map { name in
            OpenAIModelList.Model(id: name, created: state.startedAt, ownedBy: catalog.entry(named: name)?.provider.name ?? "archway")
        }
        let routes = catalog.routeNames.map { OpenAIModelList.Model(id: $0, created: state.startedAt, ownedBy: "archway") }
        let flows = (workflows?.order ?? []).map {
            OpenAIModelList.Model(id: WorkflowConfiguration.modelPrefix + $0, created: state.startedAt, ownedBy: "archway")
        }
        return models + routes + flows
    }

    func models() throws -> Response {
        Response.json(try WireJSON.encode(OpenAIModelList(data: modelList)))
    }

    /// One model, as OpenAI's `GET /v1/models/{model}` answers (`client.models.retrieve`).
    func model(_ id: String) throws -> Response {
        guard let model = modelList.first(where: { $0.id == id }) else { throw GatewayError.modelNotFound(id) }
        return Response.json(try WireJSON.encode(model))
    }
}
