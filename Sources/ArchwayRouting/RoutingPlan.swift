public import ArchwayConfig
public import ArchwayCore

/// What a routing decision needs to know about a request.
public struct RoutingRequest: Sendable {
    /// The model or route name the client sent.
    public var model: String
    public var stream: Bool
    /// A rough count of the prompt's tokens (for expected cost).
    public var estimatedInputTokens: Int
    /// The client's cap on output tokens, when it set one.
    public var maxOutputTokens: Int?

    public init(model: String, stream: Bool = false, estimatedInputTokens: Int = 0, maxOutputTokens: Int? = nil) {
        self.model = model
        self.stream = stream
        self.estimatedInputTokens = estimatedInputTokens
        self.maxOutputTokens = maxOutputTokens
    }
}

/// The ordered attempts a request will make, under one deadline. Later attempts are fallbacks.
public struct RoutingPlan: Sendable {
    public var attempts: [ModelCatalog.Entry]
    public var deadline: ContinuousClock.Instant
    /// The route's decision, when a route decided (nil for a model name).
    public var decision: RoutingDecision?
    /// How the route moves on after a failure; nil for a model name (one model, the transport's retries).
    public var retries: RouteConfiguration.Retries?
    /// Spent by each move to another candidate, so an outage does not multiply the load.
    public var retryBudget: RetryBudget?
    /// The route's calls in flight: the executor enters it for the request and leaves when it ends.
    public var load: RouteLoad?

    public init(
        attempts: [ModelCatalog.Entry],
        deadline: ContinuousClock.Instant,
        decision: RoutingDecision? = nil,
        retries: RouteConfiguration.Retries? = nil,
        retryBudget: RetryBudget? = nil,
        load: RouteLoad? = nil
    ) {
        self.attempts = attempts
        self.deadline = deadline
        self.decision = decision
        self.retries = retries
        self.retryBudget = retryBudget
        self.load = load
    }
}

/// Why a route put its first candidate first (`archway.route.reason`, a closed set).
public enum RoutingReason: String, Sendable, CaseIterable {
    /// `fallback`: the first eligible candidate in the configured order.
    case firstEligible = "first_eligible"
    /// `weighted`: drawn in proportion to the weights.
    case weighted
    /// `latency`: the lower recent latency of two drawn at random.
    case lowestLatency = "lowest_latency"
    /// `cost`: the lowest expected cost plus the value of its expected latency.
    case lowestCost = "lowest_cost"
    /// An untried or recently recovered candidate, tried so statistics never go stale.
    case exploration
    /// No candidate fit the latency budget: the best of those meeting the bar.
    case overBudget = "over_budget"
    /// Every candidate meeting the bar is ejected: the one whose ejection ends first.
    case allEjected = "all_ejected"
    /// Every other candidate is out: one whose answers stopped agreeing with the consistency reference.
    case allInconsistent = "all_inconsistent"
}

/// A route's decision, for the SERVER span (`archway.route.*`) and the metrics.
public struct RoutingDecision: Sendable {
    public var route: String
    public var strategy: RouteConfiguration.Strategy
    public var reason: RoutingReason
    /// The quality bar that applied (the route's `under_load` bar while it was loaded).
    public var minQuality: Double?
    /// The candidates in the order they will be tried.
    public var candidates: [String]
    /// Expected cost of the first candidate for this request, when it has a price.
    public var estimatedCostUSD: Double?

    public init(route: String, strategy: RouteConfiguration.Strategy, reason: RoutingReason, minQuality: Double?, candidates: [String], estimatedCostUSD: Double?) {
        self.route = route
        self.strategy = strategy
        self.reason = reason
        self.minQuality = minQuality
        self.candidates = candidates
        self.estimatedCostUSD = estimatedCostUSD
    }
}

/// Decides which models serve a request.
public protocol RoutingPolicy: Sendable {
    func plan(for request: RoutingRequest, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan
}

/// Serves each configured model name by exactly that model.
public struct DirectRoutingPolicy: RoutingPolicy {
    public let catalog: ModelCatalog
    public let requestTimeout: Duration

    public init(catalog: ModelCatalog, requestTimeout: Duration) {
        self.catalog = catalog
        self.requestTimeout = requestTimeout
    }

    public func plan(for request: RoutingRequest, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan {
        guard let entry = catalog.entry(named: request.model) else { throw GatewayError.modelNotFound(request.model) }
        return RoutingPlan(attempts: [entry], deadline: now + requestTimeout)
    }
}
