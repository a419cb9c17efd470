public import ArchwayConfig
public import ArchwayCore
import ArchwayTelemetry
import ArchwayWire
import NIOCore
import NIOHTTP1

/// The adapter for HTTP providers: OpenAI-compatible APIs (and the simulator, which speaks that wire)
/// and Anthropic's Messages API. The two differ only in paths, auth headers and body codecs.
public struct HTTPProviderAdapter: ProviderAdapter {
    public let provider: ProviderConfiguration
    public let serverAddress: (host: String, port: Int)
    let transport: UpstreamTransport
    let origin: UpstreamOrigin
    let baseHeaders: HTTPHeaders
    /// Whether the provider's key and headers can be sent (`ProviderConfiguration.headersAreSendable`). The
    /// configuration refuses what cannot; an adapter built another way with such a header fails its calls
    /// instead of sending it (the upstream pipeline does not check).
    let headersAreSendable: Bool
    /// The provider's credentials, scrubbed from its streams' error events.
    let secrets: [String]
    /// The chat and embeddings endpoints, joined to the base once rather than on every call.
    let chatEndpoint: Endpoint
    let embeddingsEndpoint: Endpoint

    /// A request path on the upstream, and the same as a full URL for telemetry (`url.full`).
    struct Endpoint {
        let path: String
        let url: String
    }

    /// The `anthropic-version` Archway speaks.
    public static let anthropicVersion = "2023-06-01"

    /// - Parameter baseURL: overrides the configured base URL (an embedded simulator's address).
    public init(provider: ProviderConfiguration, transport: UpstreamTransport, baseURL: String? = nil) {
        self.provider = provider
        self.transport = transport
        self.secrets = provider.secrets
        let configured = baseURL ?? provider.baseURL ?? "http://127.0.0.1"
        // The base URL's path (`/v1`) is what every request path extends; its query (Azure's
        // `?api-version=…`) follows each path, and `url.full` shows it with secret-looking values redacted.
        let query = configured.firstIndex(of: "?").map { String(configured[$0...]) } ?? ""
        let base = String(configured.dropLast(query.count))
        let (origin, basePath) = UpstreamOrigin.parse(base)
        self.origin = origin
        self.serverAddress = (origin.host, origin.port)
        let chatPath = provider.kind == .anthropic ? "/messages" : "/chat/completions"
        let shownQuery = Self.redactedQuery(query)
        self.chatEndpoint = Endpoint(path: basePath + chatPath + query, url: base + chatPath + shownQuery)
        self.embeddingsEndpoint = Endpoint(path: basePath + "/embeddings" + query, url: base + "/embeddings" + shownQuery)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "user-agent", value: "archway")
        switch provider.kind {
        case .anthropic:
            if let key = provider.apiKey { headers.add(name: "x-api-key", value: key) }
            headers.add(name: "anthropic-version", value: Self.anthropicVersion)
        case .openai, .simulator:
            if let key = provider.apiKey { headers.add(name: "authorization", value: "Bearer \(key)") }
        }
        for header in provider.headers {
            headers.add(name: header.name, value: header.value)
        }
        // Configuration refuses a `host` header: it is always the base URL's.
        headers.add(name: "host", value: origin.hostHeader)
        self.baseHeaders = headers
        // Framing is the transport's alone (its encoder does not remove a second one: `UpstreamRequest`),
        // and so are the key, the host and the trace context.
        self.headersAreSendable = provider.headersAreSendable
    }

    var isAnthropic: Bool { provider.kind == .anthropic }

    /// OpenAI's own API (`api.openai.com` and its regional hosts such as `eu.api.openai.com`) names the
    /// output cap `max_completion_tokens`, and its reasoning models refuse `max_tokens`. Other
    /// OpenAI-compatible servers, Azure's older api-versions among them, may know only `max_tokens`, which
    /// they get unless the client itself wrote `max_completion_tokens`.
    var sendsMaxCompletionTokens: Bool {
        guard provider.kind == .openai else { return false }
        let host = origin.host.lowercased()
        return host == "api.openai.com" || host.hasSuffix(".api.openai.com")
    }

    public var defaultMaxTokens: Int? { isAnthropic ? AnthropicMessagesRequest.defaultMaxTokens : nil }

    public var takesSystemApart: Bool { isAnthropic }

    public func chat(_ request: Relayable<ChatRequest>, call: UpstreamCall) async throws -> UpstreamReply<Relayable<ChatResponse>> {
        let (response, exchange) = try await send(
            chatEndpoint, body: encode(request, model: call.model, stream: false), stream: false, call: call, collectLimit: Self.chatBodyLimit,
            anthropicBeta: relayedBeta(request)
        )
        do {
            let body = try await response.body.collect(upTo: Self.chatBodyLimit).droppingByteOrderMark()
            let value = if isAnthropic {
                // The client speaks Anthropic's wire too: its answer is these bytes.
                request.wire?.format == .anthropic
                    ? try AnthropicPassthrough.response(body)
                    : Relayable(try WireJSON.decoder.decode(AnthropicMessagesResponse.self, from: body).response)
            } else if request.wire?.format == .openAI {
                // The client speaks this wire too: its answer is these bytes, read only for telemetry.
                try OpenAIPassthrough.response(body)
            } else {
                Relayable(try WireJSON.decoder.decode(OpenAIChatResponse.self, from: body).response)
            }
            exchange.end()
            return UpstreamReply(value: value, rateLimit: RateLimitHeadroom(response.headers), exchange: exchange)
        } catch {
            let failure = answerFailure(error, response, "body")
            exchange.end(error: failure)
            throw failure
        }
    }

    public func streamChat(_ request: Relayable<ChatRequest>, call: UpstreamCall) async throws -> UpstreamReply<ChatChunkStream> {
        let (response, exchange) = try await send(chatEndpoint, body: encode(request, model: call.model, stream: true), stream: true, call: call, anthropicBeta: relayedBeta(request))
        // An answer that is not a stream (a JSON completion or an HTML page under 200) is known to be wrong
        // before any byte reaches the client: a failure another model may answer, not a broken stream.
        if let type = response.headers.first(name: "content-type"), !type.lowercased().contains("text/event-stream") {
            let failure = GatewayError.upstreamInvalidResponse(provider: provider.name, reason: "a stream request was answered with '\(type.prefix(64))', not text/event-stream")
            exchange.end(error: failure)
            throw failure
        }
        if Self.isCompressed(response) {
            let failure = GatewayError.upstreamInvalidResponse(provider: provider.name, reason: Self.compressed)
            exchange.end(error: failure)
            throw failure
        }
        let format: ChatChunkStream.Format = switch (isAnthropic, request.wire?.format) {
        case (true, .anthropic?): .anthropicPassthrough
        case (true, _): .anthropic
        case (false, .openAI?): .openAIPassthrough
        case (false, _): .openAI
        }
        let stream = ChatChunkStream(body: response.body, format: format, provider: provider.name, secrets: secrets)
        return UpstreamReply(value: stream, rateLimit: RateLimitHeadroom(response.headers), exchange: exchange)
    }

    public func embeddings(_ request: EmbeddingRequest, call: UpstreamCall) async throws -> UpstreamReply<EmbeddingResponse> {
        guard !isAnthropic else {
            throw GatewayError.unsupported("The model '\(request.model)' is served by an Anthropic provider, which has no embeddings API.", param: "model")
        }
        var upstreamRequest = request
        upstreamRequest.model = call.model
        let body: ByteBuffer
        do {
            body = try WireJSON.encode(OpenAIEmbeddingRequest(upstreamRequest))
        } catch {
            throw Self.unencodable
        }
        let (response, exchange) = try await send(embeddingsEndpoint, body: body, stream: false, call: call, collectLimit: Self.embeddingsBodyLimit)
        do {
            let buffer = try await response.body.collect(upTo: Self.embeddingsBodyLimit).droppingByteOrderMark()
            let value = try WireJSON.decoder.decode(OpenAIEmbeddingResponse.self, from: buffer).response
            exchange.end()
            return UpstreamReply(value: value, rateLimit: RateLimitHeadroom(response.headers), exchange: exchange)
        } catch {
            let failure = answerFailure(error, response, "embeddings body")
            exchange.end(error: failure)
            throw failure
        }
    }

    /// A query with the values of parameters that look like credentials (`api-key`, `key`, `token`,
    /// `sig`, Azure Functions' `code`, …) replaced by `REDACTED`, as the HTTP conventions ask of `url.full`.
    static func redactedQuery(_ query: String) -> String {
        guard query.count > 1 else { return query }
        let parameters = query.dropFirst().split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let name = parameter[..<equals].lowercased()
            let secret = ["key", "token", "sig", "secret", "password", "auth", "credential"].contains { name.contains($0) } || name == "code"
            return secret ? parameter[..<equals] + "=REDACTED" : String(parameter)
        }
        return "?" + parameters.joined(separator: "&")
    }

    /// An Anthropic client's `anthropic-beta`, when its bytes go to this (Anthropic) provider.
    func relayedBeta(_ request: Relayable<ChatRequest>) -> String? {
        guard isAnthropic, let wire = request.wire, wire.format == .anthropic else { return nil }
        return wire.anthropicBeta
    }

    static func hasBlockInAToolResult(_ messages: [ChatMessage]) -> Bool {
        for message in messages where message.role == .tool {
            for part in message.content {
                if case .other = part { return true }
            }
        }
        return false
    }

    /// The largest answer bodies read whole: far past any model's output, short of exhausting memory.
    static let chatBodyLimit = 64 * 1024 * 1024
    static let embeddingsBodyLimit = 256 * 1024 * 1024

    /// A request the client's wire accepted but this provider's wire cannot carry (a number JSON cannot
    /// write, say): the client's to fix, so a 400, never a 500.
    static let unencodable = GatewayError.invalidRequest("The request holds a value that cannot be sent to the provider.", code: "unencodable_request")

    /// The upstream body. The client's own bytes go to an OpenAI-wire provider when the request still
    /// carries them and they can be rewritten; anything the byte scanner cannot rewrite (what the decoder
    /// accepted but the scanner does not) is encoded from the decoded request instead.
    func encode(_ request: Relayable<ChatRequest>, model: String, stream: Bool) throws -> ByteBuffer {
        let wire: WireBytes.Format = isAnthropic ? .anthropic : .openAI
        if let tool = request.value.tools?.first(where: { $0.builtIn.map { $0.wire != wire } ?? false }), let builtIn = tool.builtIn {
            // A tool another provider's API runs itself (Anthropic's web search, say) cannot run here.
            throw GatewayError.unsupported(
                "The tool '\(tool.name)' (\(builtIn.type)) is one \(builtIn.wire == .anthropic ? "Anthropic's" : "OpenAI's") API defines; the model '\(request.value.model)' is served by \(isAnthropic ? "an Anthropic" : "an OpenAI-wire") provider, which cannot run it.",
                param: "tools"
            )
        }
        if isAnthropic, case .openAIOnly? = request.value.toolChoice {
            throw GatewayError.unsupported("The model '\(request.value.model)' is served by an Anthropic provider, which has no such tool_choice (allowed_tools, a custom tool).", param: "tool_choice")
        }
        if isAnthropic, request.value.messages.contains(where: { $0.toolCalls.contains(where: \.isCustom) }) {
            throw GatewayError.unsupported("The model '\(request.value.model)' is served by an Anthropic provider, which has no custom tools; this request's history holds a custom tool's call.", param: "messages")
        }
        if isAnthropic, let count = request.value.choiceCount, count > 1 {
            // One answer a call is all Anthropic's API gives: say so rather than answer one of n.
            throw GatewayError.unsupported("The model '\(request.value.model)' is served by an Anthropic provider, which answers one choice a request: n must be 1.", param: "n")
        }
        // A request carrying the gateway's own `conversation_id` is encoded, which leaves it out.
        if !isAnthropic, let wire = request.wire, wire.format == .openAI, request.value.extra[OpenAIChatRequest.conversationIDField] == nil,
           let body = try? OpenAIPassthrough.upstreamBody(wire, model: model, stream: stream) {
            return body
        }
        if !isAnthropic, Self.hasFileImage(request.value.messages) {
            // An Anthropic image the OpenAI wire has no part for (one from the Files API; base64 and URL
            // images are translated): refused rather than sent as something the provider refuses.
            throw GatewayError.unsupported(
                "The model '\(request.value.model)' is served by an OpenAI-wire provider, which takes no Anthropic 'image' block from the Files API.",
                param: "messages"
            )
        }
        if !isAnthropic, Self.hasBlockInAToolResult(request.value.messages) {
            // OpenAI's tool messages carry text: an image or document block a tool returned (from the
            // Anthropic wire) would be refused by the provider or lost.
            throw GatewayError.unsupported(
                "The model '\(request.value.model)' is served by an OpenAI-wire provider, whose tool results carry text only; this request's tool result holds an image or a document.",
                param: "messages"
            )
        }
        if isAnthropic, let wire = request.wire, wire.format == .anthropic, let body = try? AnthropicPassthrough.upstreamBody(wire, model: model) {
            return body
        }
        var value = request.value
        value.model = model
        value.stream = stream
        do {
            if isAnthropic { return try WireJSON.encode(AnthropicMessagesRequest(value)) }
            return try WireJSON.encode(OpenAIChatRequest(value, completionTokens: sendsMaxCompletionTokens))
        } catch {
            throw Self.unencodable
        }
    }

    /// Whether a user or assistant message carries an Anthropic image block as it came: one whose source
    /// the canonical types do not model (the Files API's; base64 and URL images are translated).
    static func hasFileImage(_ messages: [ChatMessage]) -> Bool {
        messages.contains { message in
            message.role != .tool && message.content.contains { part in
                guard case .other(let value) = part else { return false }
                return value["type"]?.stringValue == "image" && value["source"]?["type"]?.stringValue != "base64"
            }
        }
    }

    /// Archway asks for no content encoding; a compressed body reads as garbage, or as a cut stream.
    static func isCompressed(_ response: UpstreamResponse) -> Bool {
        response.headers.first(name: "content-encoding").map { $0.lowercased() != "identity" } ?? false
    }

    static let compressed = "a compressed answer (Content-Encoding), which was not asked for"

    /// What a failure to read an answer's body is to the client: an answer it could not decode (a
    /// compressed one says so, looked for only once it could not), or the transport's failure.
    func answerFailure(_ error: any Error, _ response: UpstreamResponse, _ what: String) -> GatewayError {
        guard error is DecodingError || error is JSONScanner.Failure else { return UpstreamTransport.map(error, provider: provider.name) }
        return .upstreamInvalidResponse(provider: provider.name, reason: Self.isCompressed(response) ? Self.compressed : "undecodable \(what)")
    }

    func send(
        _ endpoint: Endpoint,
        body: ByteBuffer,
        stream: Bool,
        call: UpstreamCall,
        collectLimit: Int? = nil,
        anthropicBeta: String? = nil
    ) async throws -> (UpstreamResponse, UpstreamExchange) {
        guard headersAreSendable else {
            throw GatewayError.upstreamUnreachable(provider: provider.name, reason: "its configured headers cannot be sent")
        }
        var headers = baseHeaders
        if stream { headers.add(name: "accept", value: "text/event-stream") }
        // An Anthropic client's betas go with its bytes to an Anthropic provider, after any the
        // provider's configuration sets.
        if let anthropicBeta, HeaderValidity.isSendableValue(anthropicBeta) {
            headers.add(name: "anthropic-beta", value: anthropicBeta)
        }
        return try await transport.send(
            origin: origin,
            path: endpoint.path,
            url: endpoint.url,
            body: body,
            headers: headers,
            provider: provider,
            call: call,
            collectLimit: collectLimit
        )
    }

}
