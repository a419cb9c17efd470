public import ArchwayCore

/// The validated configuration of a gateway: what `archway serve` runs and `archway check` accepts.
public struct GatewayConfiguration: Sendable {
    public var listen: ListenAddress
    public var server: ServerSettings
    public var upstream: UpstreamSettings
    /// Upstream accounts, by their configured name.
    public var providers: [String: ProviderConfiguration]
    /// The model names clients send, in file order.
    public var models: [ModelConfiguration]
    public var telemetry: TelemetrySettings

    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080),
        server: ServerSettings = ServerSettings(),
        upstream: UpstreamSettings = UpstreamSettings(),
        providers: [String: ProviderConfiguration] = [:],
        models: [ModelConfiguration] = [],
        telemetry: TelemetrySettings = TelemetrySettings()
    ) {
        self.listen = listen
        self.server = server
        self.upstream = upstream
        self.providers = providers
        self.models = models
        self.telemetry = telemetry
    }
}

/// Where the gateway accepts connections.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Loopback addresses are reachable only from this machine, so running them without a master key is safe.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Settings of the gateway's own HTTP server.
public struct ServerSettings: Sendable {
    /// Largest request body accepted; larger bodies get 413.
    public var maxBodyBytes: Int
    /// How long in-flight requests and streams may run on after SIGTERM.
    public var shutdownTimeout: Duration
    /// When set, every `/v1/*` request must present it (`Authorization: Bearer …` or `x-api-key`).
    /// Required when listening beyond loopback.
    public var masterKey: String?

    public init(maxBodyBytes: Int = 4 * 1024 * 1024, shutdownTimeout: Duration = .seconds(30), masterKey: String? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.shutdownTimeout = shutdownTimeout
        self.masterKey = masterKey
    }
}

/// How the gateway talks to upstream providers.
public struct UpstreamSettings: Sendable {
    public var connectTimeout: Duration
    /// Longest wait for the upstream's first response byte, and after that between bytes.
    public var firstByteTimeout: Duration
    /// Longest time one upstream call may take, stream included.
    public var requestTimeout: Duration
    /// Extra attempts at the same provider after a retryable failure (429, 5xx, connection error),
    /// made only before any byte has reached the client.
    public var maxRetries: Int
    /// Pooled HTTP/1.1 connections per upstream host. A stream holds its connection for its whole
    /// length, so this bounds concurrent streams to one plain-HTTP upstream (HTTPS upstreams that
    /// speak HTTP/2 multiplex instead).
    public var maxConnectionsPerHost: Int

    public init(
        connectTimeout: Duration = .seconds(10),
        firstByteTimeout: Duration = .seconds(120),
        requestTimeout: Duration = .seconds(600),
        maxRetries: Int = 1,
        maxConnectionsPerHost: Int = 2_048
    ) {
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.requestTimeout = requestTimeout
        self.maxRetries = maxRetries
        self.maxConnectionsPerHost = maxConnectionsPerHost
    }
}

/// One upstream account.
public struct ProviderConfiguration: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Any OpenAI-compatible API.
        case openai
        case anthropic
        /// The built-in simulator (embedded when no `base_url` is given).
        case simulator
    }

    public var name: String
    public var kind: Kind
    /// API root including its version segment; nil only for an embedded simulator.
    public var baseURL: String?
    public var apiKey: String?
    /// Static headers sent with every upstream request.
    public var headers: [(name: String, value: String)]
    /// `gen_ai.provider.name` to report; derived from the kind and host when not set.
    public var providerName: String
    /// Behaviour of an embedded simulator.
    public var simulator: SimulatorSettings

    public init(
        name: String,
        kind: Kind,
        baseURL: String?,
        apiKey: String? = nil,
        headers: [(name: String, value: String)] = [],
        providerName: String? = nil,
        simulator: SimulatorSettings = SimulatorSettings()
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
        self.providerName = providerName ?? Self.defaultProviderName(kind: kind, baseURL: baseURL)
        self.simulator = simulator
    }

    /// The API root a `base_url` names. Both forms SDKs and other gateways use are accepted: the root
    /// (`https://api.anthropic.com`, as `ANTHROPIC_BASE_URL` has it) and the versioned root
    /// (`https://api.openai.com/v1`). A URL without a path means `/v1`; one with a path is kept as it is
    /// (`https://api.groq.com/openai/v1`, an Azure deployment).
    public static func apiRoot(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://")?.upperBound else { return url }
        let rest = url[schemeEnd...]
        let path = rest.drop { $0 != "/" }
        let trimmed = path.reversed().drop { $0 == "/" }
        return trimmed.isEmpty ? String(url[..<path.startIndex]) + "/v1" : url
    }

    /// The GenAI conventions' well-known provider names, recognised from the API host.
    static func defaultProviderName(kind: Kind, baseURL: String?) -> String {
        switch kind {
        case .anthropic: return "anthropic"
        case .simulator: return "archway.simulator"
        case .openai:
            let host = baseURL.flatMap { url -> String? in
                guard let start = url.range(of: "://")?.upperBound else { return nil }
                return String(url[start...].prefix { $0 != "/" && $0 != ":" }).lowercased()
            } ?? ""
            let known: [(suffix: String, name: String)] = [
                ("openai.com", "openai"), ("openai.azure.com", "azure.ai.openai"), ("deepseek.com", "deepseek"),
                ("mistral.ai", "mistral_ai"), ("groq.com", "groq"), ("x.ai", "x_ai"), ("perplexity.ai", "perplexity"),
                ("dashscope.aliyuncs.com", "alibaba_cloud"), ("dashscope-intl.aliyuncs.com", "alibaba_cloud"),
                ("generativelanguage.googleapis.com", "gcp.gemini"), ("together.xyz", "together_ai"),
            ]
            return known.first { host == $0.suffix || host.hasSuffix("." + $0.suffix) }?.name ?? "openai"
        }
    }
}

/// Behaviour of a simulated upstream.
public struct SimulatorSettings: Sendable, Hashable {
    /// Delay before a non-streamed answer.
    public var latency: Duration
    /// Delay before the first streamed token.
    public var timeToFirstToken: Duration
    public var tokensPerSecond: Double
    /// Share of requests answered with `errorStatus`.
    public var errorRate: Double
    public var errorStatus: Int
    /// Share of requests answered with 429 and `retry-after`.
    public var rateLimitRate: Double
    public var seed: UInt64

    public init(
        latency: Duration = .milliseconds(20),
        timeToFirstToken: Duration = .milliseconds(20),
        tokensPerSecond: Double = 500,
        errorRate: Double = 0,
        errorStatus: Int = 500,
        rateLimitRate: Double = 0,
        seed: UInt64 = 42
    ) {
        self.latency = latency
        self.timeToFirstToken = timeToFirstToken
        self.tokensPerSecond = tokensPerSecond
        self.errorRate = errorRate
        self.errorStatus = errorStatus
        self.rateLimitRate = rateLimitRate
        self.seed = seed
    }
}

/// A model name clients may send, and where it is served.
public struct ModelConfiguration: Sendable {
    public var name: String
    /// Name of the provider in `providers`.
    public var provider: String
    /// The id sent upstream.
    public var upstreamModel: String
    public var price: ModelPrice?

    public init(name: String, provider: String, upstreamModel: String? = nil, price: ModelPrice? = nil) {
        self.name = name
        self.provider = provider
        self.upstreamModel = upstreamModel ?? name
        self.price = price
    }
}

public struct TelemetrySettings: Sendable {
    /// Export message content (`gen_ai.input.messages`, …) on spans. Off by default: prompts are user data.
    public var captureContent: Bool
    /// How long the final export of buffered spans and metrics may take at shutdown. Bounded on its own,
    /// so an unreachable collector cannot hold the exit past an orchestrator's kill (10 s for `docker stop`).
    public var flushTimeout: Duration

    public init(captureContent: Bool = false, flushTimeout: Duration = .milliseconds(1500)) {
        self.captureContent = captureContent
        self.flushTimeout = flushTimeout
    }
}
