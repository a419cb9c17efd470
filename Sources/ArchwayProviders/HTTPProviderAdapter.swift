public import ArchwayConfig
public import ArchwayCore
import ArchwayWire
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// The adapter for HTTP providers: OpenAI-compatible APIs (and the simulator, which speaks that wire)
/// and Anthropic's Messages API. The two differ only in paths, auth headers and body codecs.
public struct HTTPProviderAdapter: ProviderAdapter {
    public let provider: ProviderConfiguration
    public let serverAddress: (host: String, port: Int)
    let transport: UpstreamTransport
    let baseURL: String
    let baseHeaders: HTTPHeaders

    /// The `anthropic-version` Archway speaks.
    public static let anthropicVersion = "2023-06-01"

    /// - Parameter baseURL: overrides the configured base URL (an embedded simulator's address).
    public init(provider: ProviderConfiguration, transport: UpstreamTransport, baseURL: String? = nil) {
        self.provider = provider
        self.transport = transport
        let base = baseURL ?? provider.baseURL ?? "http://127.0.0.1"
        self.baseURL = base
        self.serverAddress = Self.hostAndPort(of: base)
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
        self.baseHeaders = headers
    }

    var isAnthropic: Bool { provider.kind == .anthropic }

    public func chat(_ request: ChatRequest, call: UpstreamCall) async throws -> UpstreamReply<ChatResponse> {
        let (response, attempts, exchange) = try await send(path: isAnthropic ? "/messages" : "/chat/completions", body: encode(request), stream: false, call: call)
        do {
            let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
            let value = if isAnthropic {
                try WireJSON.decoder.decode(AnthropicMessagesResponse.self, from: body).response
            } else if request.openAIWire != nil {
                // The client speaks this wire too: its answer is these bytes, read only for telemetry.
                try OpenAIPassthrough.response(body)
            } else {
                try WireJSON.decoder.decode(OpenAIChatResponse.self, from: body).response
            }
            exchange.end()
            return UpstreamReply(value: value, attempts: attempts, rateLimit: Self.rateLimit(response.headers), exchange: exchange)
        } catch {
            let failure = error is DecodingError || error is JSONScanner.Failure
                ? GatewayError.upstreamInvalidResponse(provider: provider.name, reason: "undecodable body")
                : UpstreamTransport.map(error, provider: provider.name)
            exchange.end(error: failure)
            throw failure
        }
    }

    public func streamChat(_ request: ChatRequest, call: UpstreamCall) async throws -> UpstreamReply<ChatChunkStream> {
        var request = request
        request.stream = true
        let (response, attempts, exchange) = try await send(path: isAnthropic ? "/messages" : "/chat/completions", body: encode(request), stream: true, call: call)
        let format: ChatChunkStream.Format = isAnthropic ? .anthropic : (request.openAIWire != nil ? .openAIPassthrough : .openAI)
        let stream = ChatChunkStream(body: response.body, format: format, provider: provider.name)
        return UpstreamReply(value: stream, attempts: attempts, rateLimit: Self.rateLimit(response.headers), exchange: exchange)
    }

    public func embeddings(_ request: EmbeddingRequest, call: UpstreamCall) async throws -> UpstreamReply<EmbeddingResponse> {
        guard !isAnthropic else {
            throw GatewayError.unsupported("The model '\(request.model)' is served by an Anthropic provider, which has no embeddings API.", param: "model")
        }
        let body: ByteBuffer
        do {
            body = try WireJSON.encode(OpenAIEmbeddingRequest(request))
        } catch {
            throw GatewayError.internalError("could not encode the upstream request")
        }
        let (response, attempts, exchange) = try await send(path: "/embeddings", body: body, stream: false, call: call)
        do {
            let buffer = try await response.body.collect(upTo: 256 * 1024 * 1024)
            let value = try WireJSON.decoder.decode(OpenAIEmbeddingResponse.self, from: buffer).response
            exchange.end()
            return UpstreamReply(value: value, attempts: attempts, rateLimit: Self.rateLimit(response.headers), exchange: exchange)
        } catch {
            let failure = GatewayError.upstreamInvalidResponse(provider: provider.name, reason: "undecodable embeddings body")
            exchange.end(error: failure)
            throw failure
        }
    }

    func encode(_ request: ChatRequest) throws -> ByteBuffer {
        do {
            if isAnthropic { return try WireJSON.encode(AnthropicMessagesRequest(request)) }
            if let wire = request.openAIWire {
                return try OpenAIPassthrough.upstreamBody(wire, model: request.model, stream: request.stream)
            }
            return try WireJSON.encode(OpenAIChatRequest(request))
        } catch {
            throw GatewayError.internalError("could not encode the upstream request")
        }
    }

    func send(path: String, body: ByteBuffer, stream: Bool, call: UpstreamCall) async throws -> (HTTPClientResponse, Int, UpstreamExchange) {
        var headers = baseHeaders
        if stream { headers.add(name: "accept", value: "text/event-stream") }
        return try await transport.send(
            url: baseURL + path,
            body: body,
            headers: headers,
            provider: provider,
            server: serverAddress,
            call: call
        )
    }

    /// OpenAI-style (`x-ratelimit-remaining-*`) and Anthropic-style (`anthropic-ratelimit-*-remaining`) headroom.
    static func rateLimit(_ headers: HTTPHeaders) -> (remainingRequests: Int?, remainingTokens: Int?) {
        let requests = headers.first(name: "x-ratelimit-remaining-requests") ?? headers.first(name: "anthropic-ratelimit-requests-remaining")
        let tokens = headers.first(name: "x-ratelimit-remaining-tokens") ?? headers.first(name: "anthropic-ratelimit-tokens-remaining")
        return (requests.flatMap { Int($0) }, tokens.flatMap { Int($0) })
    }

    static func hostAndPort(of url: String) -> (host: String, port: Int) {
        let https = url.lowercased().hasPrefix("https://")
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        let authority = rest.prefix { $0 != "/" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let port = Int(authority[close...].dropFirst(2)) ?? (https ? 443 : 80)
            return (host, port)
        }
        let parts = authority.split(separator: ":", maxSplits: 1)
        let host = parts.first.map(String.init) ?? ""
        let port = parts.count > 1 ? Int(parts[1]) ?? (https ? 443 : 80) : (https ? 443 : 80)
        return (host, port)
    }
}
