public import ArchwayCore

/// The ordered attempts a request will make, under one deadline. Later attempts are fallbacks.
public struct RoutingPlan: Sendable {
    public var attempts: [ModelCatalog.Entry]
    public var deadline: ContinuousClock.Instant
    /// The route that decided, when a named route did (`archway.route.name`).
    public var routeName: String?

    public init(attempts: [ModelCatalog.Entry], deadline: ContinuousClock.Instant, routeName: String? = nil) {
        self.attempts = attempts
        self.deadline = deadline
        self.routeName = routeName
    }
}

/// Decides which models serve a request. The seam where cost-, latency- and quality-aware routing plugs in.
public protocol RoutingPolicy: Sendable {
    func plan(forModel name: String, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan
}

/// Serves each configured model name by exactly that model.
public struct DirectRoutingPolicy: RoutingPolicy {
    public let catalog: ModelCatalog
    public let requestTimeout: Duration

    public init(catalog: ModelCatalog, requestTimeout: Duration) {
        self.catalog = catalog
        self.requestTimeout = requestTimeout
    }

    public func plan(forModel name: String, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan {
        guard let entry = catalog.entry(named: name) else { throw GatewayError.modelNotFound(name) }
        return RoutingPlan(attempts: [entry], deadline: now + requestTimeout)
    }
}
