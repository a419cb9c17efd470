import ArchwayConfig
import ArchwayCore
import ArchwayProviders
import ArchwayRouting
import ArchwayWire
import Hummingbird
import NIOCore

/// The client-facing API: OpenAI's chat completions, embeddings and models, and Anthropic's messages.
struct GatewayRoutes: Sendable {
    let executor: ModelCallExecutor
    let catalog: ModelCatalog
    let maxBodyBytes: Int
    let state: GatewayState

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/v1/chat/completions") { request, context in try await chatCompletions(request, context: context) }
        router.post("/v1/messages") { request, context in try await messages(request, context: context) }
        router.post("/v1/embeddings") { request, context in try await embeddings(request, context: context) }
        router.get("/v1/models") { _, _ in try models() }
        router.get("/healthz") { _, _ in Response.json(ByteBuffer(string: #"{"status":"ok"}"#)) }
        router.get("/readyz") { _, _ in
            state.isReady
                ? Response.json(ByteBuffer(string: #"{"status":"ready"}"#))
                : Response.json(ByteBuffer(string: #"{"status":"not_ready"}"#), status: .serviceUnavailable)
        }
    }

    /// Collects the body within the configured limit.
    func body(of request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw GatewayError.payloadTooLarge(limit: maxBodyBytes)
        }
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw GatewayError.payloadTooLarge(limit: maxBodyBytes)
        }
    }

    func chatCompletions(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let body = try await body(of: request)
        // Decoded to validate it and for telemetry; the bytes go upstream as they are to an OpenAI-wire
        // provider, and its answer comes back as bytes. Content capture needs the answer decoded.
        var chat = try OpenAIChatRequest.decode(from: body)
        if !executor.telemetry.captureContent { chat.openAIWire = OpenAIWireBytes(bytes: body) }
        if chat.stream {
            let (call, stream, exchange) = try await ClientConnections.run(on: context.channel) {
                try await executor.startStream(chat, context: context.serviceContext)
            }
            return StreamRelay(executor: executor, call: call, stream: stream, exchange: exchange, clientModel: chat.model, wire: .openAI(includeUsage: chat.includeUsage), channel: context.channel).response()
        }
        let response = try await ClientConnections.run(on: context.channel) {
            try await executor.chat(chat, context: context.serviceContext)
        }
        if let wire = response.openAIWire {
            var out = ByteBuffer()
            out.reserveCapacity(wire.bytes.readableBytes + chat.model.utf8.count)
            OpenAIPassthrough.write(wire, model: chat.model, into: &out)
            return Response.json(out)
        }
        return Response.json(try WireJSON.encode(OpenAIChatResponse(response)))
    }

    func messages(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let chat = try WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: try await body(of: request)).request
        if chat.stream {
            let (call, stream, exchange) = try await ClientConnections.run(on: context.channel) {
                try await executor.startStream(chat, context: context.serviceContext)
            }
            return StreamRelay(executor: executor, call: call, stream: stream, exchange: exchange, clientModel: chat.model, wire: .anthropic, channel: context.channel).response()
        }
        var response = try await ClientConnections.run(on: context.channel) {
            try await executor.chat(chat, context: context.serviceContext)
        }
        if !response.id.hasPrefix("msg_") { response.id = "msg_" + response.id }
        return Response.json(try WireJSON.encode(AnthropicMessagesResponse(response)))
    }

    func embeddings(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let embedding = try WireJSON.decodeRequest(OpenAIEmbeddingRequest.self, from: try await body(of: request)).request
        let response = try await ClientConnections.run(on: context.channel) {
            try await executor.embeddings(embedding, context: context.serviceContext)
        }
        return Response.json(try WireJSON.encode(OpenAIEmbeddingResponse(response)))
    }

    func models() throws -> Response {
        let list = OpenAIModelList(data: catalog.names.map { name in
            OpenAIModelList.Model(id: name, created: state.startedAt, ownedBy: catalog.entry(named: name)?.provider.name ?? "archway")
        })
        return Response.json(try WireJSON.encode(list))
    }
}
