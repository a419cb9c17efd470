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
    /// Route names clients send, in file order.
    public var routes: [RouteConfiguration]
    public var pricing: PricingSettings
    public var telemetry: TelemetrySettings
    public var shadow: ShadowSettings
    /// Declared workflows, in file order.
    public var workflows: [WorkflowConfiguration]
    /// The policy stage; nil when none is configured.
    public var policy: PolicyConfiguration?

    public init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080),
        server: ServerSettings = ServerSettings(),
        upstream: UpstreamSettings = UpstreamSettings(),
        providers: [String: ProviderConfiguration] = [:],
        models: [ModelConfiguration] = [],
        routes: [RouteConfiguration] = [],
        pricing: PricingSettings = PricingSettings(),
        telemetry: TelemetrySettings = TelemetrySettings(),
        shadow: ShadowSettings = ShadowSettings(),
        workflows: [WorkflowConfiguration] = [],
        policy: PolicyConfiguration? = nil
    ) {
        self.listen = listen
        self.server = server
        self.upstream = upstream
        self.providers = providers
        self.models = models
        self.routes = routes
        self.pricing = pricing
        self.telemetry = telemetry
        self.shadow = shadow
        self.workflows = workflows
        self.policy = policy
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
    /// When set, every request but the health checks and the scrape must present it (`Authorization:
    /// Bearer …` or `x-api-key`). Required when listening beyond loopback.
    public var masterKey: String?
    /// How long a client connection may wait without a request: idle after its last answer, or sending
    /// a request head that never completes. Longer than a load balancer's idle timeout (AWS's is 60 s),
    /// so the balancer, not the gateway, closes a connection it holds.
    public var idleTimeout: Duration
    /// How long a request's body may take to arrive once its head has; answered 408 after it.
    public var readTimeout: Duration

    public init(
        maxBodyBytes: Int = 4 * 1024 * 1024,
        shutdownTimeout: Duration = .seconds(30),
        masterKey: String? = nil,
        idleTimeout: Duration = .seconds(75),
        readTimeout: Duration = .seconds(60)
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.shutdownTimeout = shutdownTimeout
        self.masterKey = masterKey
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
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
    /// Pooled HTTP/1.1 connections per upstream host (plain or TLS). A call holds its connection for
    /// its whole length, streams included, so this bounds concurrent calls to one host; calls beyond it
    /// wait in order for a free connection, until their deadline.
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
    /// Static headers sent with every upstream request; none of `reservedHeaderNames`.
    public var headers: [(name: String, value: String)]

    /// The headers Archway sets on every upstream request itself (lowercased): the credentials, the
    /// origin, the body's framing and type, the trace context.
    public static let reservedHeaderNames: Set<String> = [
        "authorization", "x-api-key", "host", "content-length", "transfer-encoding", "content-type", "traceparent",
    ]

    /// Whether the key and `headers` can be sent as they are: valid HTTP, none reserved.
    public var headersAreSendable: Bool {
        (apiKey.map(HeaderValidity.isSendableValue) ?? true)
            && headers.allSatisfy { name, value in
                HeaderValidity.isSendableName(name) && HeaderValidity.isSendableValue(value)
                    && !Self.reservedHeaderNames.contains(name.lowercased())
            }
    }
    /// Every credential this provider is configured with, to scrub from what its answers echo: the key
    /// and the values of `headers` long enough to be one (Azure's `api-key`, a custom `Authorization`,
    /// with and without its scheme).
    public var secrets: [String] {
        var secrets: [String] = apiKey.map { [$0] } ?? []
        for (_, value) in headers where value.utf8.count >= 8 {
            secrets.append(value)
            if let space = value.firstIndex(of: " "), value[value.index(after: space)...].utf8.count >= 8 {
                secrets.append(String(value[value.index(after: space)...]))
            }
        }
        return secrets
    }
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
        let query = url.firstIndex(of: "?").map { url[$0...] } ?? ""
        let base = url.dropLast(query.count)
        let rest = base[schemeEnd...]
        let path = rest.drop { $0 != "/" }
        let trimmed = path.reversed().drop { $0 == "/" }
        return trimmed.isEmpty ? String(base[..<path.startIndex]) + "/v1" + query : url
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
                ("aiplatform.googleapis.com", "gcp.vertex_ai"), ("moonshot.ai", "moonshot_ai"), ("moonshot.cn", "moonshot_ai"),
            ]
            // Vertex AI's hosts are regional: `us-central1-aiplatform.googleapis.com`.
            if host.hasSuffix("-aiplatform.googleapis.com") { return "gcp.vertex_ai" }
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
    /// Share of answers that are the reference answer (every model's answer to a request is the same
    /// reference text); the rest are a different text, deterministic per seed, request and model.
    public var quality: Double
    /// Answer with the last user message ("You said: …") instead of generated words: what the policy
    /// example uses to show redacted values coming back.
    public var echo: Bool

    public init(
        latency: Duration = .milliseconds(20),
        timeToFirstToken: Duration = .milliseconds(20),
        tokensPerSecond: Double = 500,
        errorRate: Double = 0,
        errorStatus: Int = 500,
        rateLimitRate: Double = 0,
        seed: UInt64 = 42,
        quality: Double = 1,
        echo: Bool = false
    ) {
        self.latency = latency
        self.timeToFirstToken = timeToFirstToken
        self.tokensPerSecond = tokensPerSecond
        self.errorRate = errorRate
        self.errorStatus = errorStatus
        self.rateLimitRate = rateLimitRate
        self.quality = quality
        self.echo = echo
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
    /// The base price (USD per million tokens).
    public var price: ModelPrice?
    /// Time-of-day prices (UTC) that replace the base price inside their windows; first match wins.
    public var priceSchedule: [PriceSchedule.Entry]
    /// Declared answer quality in 0...1, for routes' `min_quality`; nil when not declared.
    public var quality: Double?
    /// `policy: none`: the policy stage leaves calls to this model alone (an on-premises model, say).
    public var policyExempt = false

    public init(
        name: String,
        provider: String,
        upstreamModel: String? = nil,
        price: ModelPrice? = nil,
        priceSchedule: [PriceSchedule.Entry] = [],
        quality: Double? = nil
    ) {
        self.name = name
        self.provider = provider
        self.upstreamModel = upstreamModel ?? name
        self.price = price
        self.priceSchedule = priceSchedule
        self.quality = quality
    }

    /// The configured prices, when the model has a base price.
    public var schedule: PriceSchedule? {
        price.map { PriceSchedule(base: $0, entries: priceSchedule) }
    }
}

/// A name clients send that the gateway resolves, per request, to one of several configured models.
public struct RouteConfiguration: Sendable {
    public enum Strategy: String, Sendable, CaseIterable {
        /// The candidates in order: the first eligible one, then the next on failure.
        case fallback
        /// At random in proportion to `weights` (1 for a candidate without one).
        case weighted
        /// The lowest recent latency (time to first token for streams), power of two choices.
        case latency
        /// The lowest expected cost plus `value_of_time` × expected latency, among eligible candidates.
        case cost
    }

    /// Failures a route moves on after (to the next candidate).
    public enum RetryCondition: String, Sendable, CaseIterable {
        case rateLimited = "429"
        case serverError = "5xx"
        case timeout
    }

    public struct Retries: Sendable, Hashable {
        /// Further attempts after the first, each at the next-best candidate.
        public var max: Int
        /// Base pause before a further attempt (jittered, doubling); a provider's `retry-after` is honoured.
        public var backoff: Duration
        public var on: Set<RetryCondition>

        public init(max: Int = 2, backoff: Duration = .milliseconds(100), on: Set<RetryCondition> = Set(RetryCondition.allCases)) {
            self.max = max
            self.backoff = backoff
            self.on = on
        }
    }

    /// Envoy-style outlier ejection: after `consecutiveFailures` in a row, or once `failureRate` of at
    /// least `minCalls` calls in the last 10 s failed (Envoy's failure percentage: a model that fails
    /// often but never several times in a row), a candidate is left out for `base`, doubling with each
    /// further ejection, and probed until it answers again.
    public struct Ejection: Sendable, Hashable {
        public var consecutiveFailures: Int
        public var failureRate: Double
        public var minCalls: Int
        public var base: Duration

        public init(consecutiveFailures: Int = 3, failureRate: Double = 0.5, minCalls: Int = 10, base: Duration = .seconds(5)) {
            self.consecutiveFailures = consecutiveFailures
            self.failureRate = failureRate
            self.minCalls = minCalls
            self.base = base
        }
    }

    /// A lower quality bar while the route is loaded: more than `inFlightAbove` of its calls in flight.
    public struct UnderLoad: Sendable, Hashable {
        public var inFlightAbove: Int
        public var minQuality: Double

        public init(inFlightAbove: Int, minQuality: Double) {
            self.inFlightAbove = inFlightAbove
            self.minQuality = minQuality
        }
    }

    /// Consistency shadowing: a share of the route's answers is also asked of `reference`, off the
    /// client's path, and scored for agreement (0...1). A candidate whose mean score over the last
    /// `window` samples falls below `minScore` (once it has `minSamples`) is not chosen until its mean
    /// is back above `minScore` + `hysteresis`; meanwhile it is shadow-sampled at `recoveryRate`.
    public struct Consistency: Sendable, Hashable {
        /// The configured model whose answers count as right.
        public var reference: String
        /// Share of answered calls also sent to the reference.
        public var sampleRate: Double
        /// Scores a model's consistency is averaged over.
        public var window: Int
        /// Below it (after `minSamples`) a candidate is not chosen.
        public var minScore: Double
        /// Samples needed before a candidate can be left out.
        public var minSamples: Int
        /// Share of the route's answered calls also asked of each left-out candidate, so it can recover.
        public var recoveryRate: Double
        /// An embeddings model: cosine similarity of the answers' embeddings instead of the lexical measure.
        public var embeddings: String?

        /// Added to `minScore` for a left-out candidate to come back (so it does not flap at the bar).
        public static let hysteresis = 0.05

        public init(
            reference: String,
            sampleRate: Double = 0.05,
            window: Int = 50,
            minScore: Double = 0.6,
            minSamples: Int? = nil,
            recoveryRate: Double? = nil,
            embeddings: String? = nil
        ) {
            self.reference = reference
            self.sampleRate = sampleRate
            self.window = window
            self.minScore = minScore
            self.minSamples = minSamples ?? min(10, window)
            self.recoveryRate = recoveryRate ?? sampleRate
            self.embeddings = embeddings
        }
    }

    public var name: String
    public var strategy: Strategy
    /// Configured model names, in the order `fallback` tries them.
    public var candidates: [String]
    /// `weighted` only.
    public var weights: [String: Double]
    /// Candidates whose declared quality is below it are never chosen.
    public var minQuality: Double?
    /// Candidates whose predicted p95 latency exceeds it are not chosen while another fits.
    public var latencyBudget: Duration?
    /// USD one second of expected latency is worth (`cost` strategy; 0 = cost alone).
    public var valueOfTime: Double
    public var retries: Retries
    public var ejection: Ejection
    /// The bar while the route is loaded (with hysteresis: back at 80 % of the threshold).
    public var underLoad: UnderLoad?
    /// Answers sampled against a reference model; candidates that stop agreeing with it are left out.
    public var consistency: Consistency?
    /// `policy: none`: the policy stage leaves this route's calls alone.
    public var policyExempt = false

    public init(
        name: String,
        strategy: Strategy,
        candidates: [String],
        weights: [String: Double] = [:],
        minQuality: Double? = nil,
        latencyBudget: Duration? = nil,
        valueOfTime: Double = 0,
        retries: Retries = Retries(),
        ejection: Ejection = Ejection(),
        underLoad: UnderLoad? = nil,
        consistency: Consistency? = nil
    ) {
        self.name = name
        self.strategy = strategy
        self.candidates = candidates
        self.weights = weights
        self.minQuality = minQuality
        self.latencyBudget = latencyBudget
        self.valueOfTime = valueOfTime
        self.retries = retries
        self.ejection = ejection
        self.underLoad = underLoad
        self.consistency = consistency
    }
}

/// Where live prices come from besides the models' own.
/// Bounds on shadow calls (consistency samples), which run after the client's answer, off its path.
public struct ShadowSettings: Sendable, Hashable {
    /// Samples evaluated at once.
    public var maxConcurrency: Int
    /// Samples waiting; when full, new ones are dropped (and counted).
    public var queueSize: Int

    public init(maxConcurrency: Int = 4, queueSize: Int = 128) {
        self.maxConcurrency = maxConcurrency
        self.queueSize = queueSize
    }
}

public struct PricingSettings: Sendable {
    /// A YAML or JSON file with the schema of `PUT /admin/pricing`, reloaded when it changes
    /// (resolved against the configuration file's folder).
    public var file: String?

    public init(file: String? = nil) {
        self.file = file
    }
}

public struct TelemetrySettings: Sendable {
    /// Export message content (`gen_ai.input.messages`, …) on spans. Off by default: prompts are user data.
    public var captureContent: Bool
    /// `capture_content: redacted`: content is captured with the PII policy applied (placeholders).
    public var captureRedacted: Bool
    /// How long the final export of buffered spans and metrics may take at shutdown. Bounded on its own,
    /// so an unreachable collector cannot hold the exit past an orchestrator's kill (10 s for `docker stop`).
    public var flushTimeout: Duration

    public init(captureContent: Bool = false, flushTimeout: Duration = .milliseconds(1500)) {
        self.captureContent = captureContent
        self.captureRedacted = false
        self.flushTimeout = flushTimeout
    }
}
