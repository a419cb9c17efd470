public import ArchwayConfig
public import ArchwayCore
import Synchronization

/// Routes requests: a configured model name is served by that model; a route name by its candidates,
/// ordered per request by the route's strategy from live prices and the models' own statistics.
///
/// Eligible are the candidates whose declared quality meets the bar, that are not ejected nor holding
/// off after a `retry-after`, whose predicted p95 fits the latency budget and whose answers still agree
/// with the route's consistency reference. The eligible ones come first, in the strategy's order; then
/// those over the budget; then ejected ones (never no candidate while one meets the bar); inconsistent
/// ones only last, when nothing else is left. Candidates below the bar never come, nor those held back
/// by a `retry-after` while it lasts.
public final class AdaptiveRoutingPolicy: RoutingPolicy {
    public let catalog: ModelCatalog
    public let pricing: PricingIndex
    public let statistics: RoutingStatistics
    /// Consistency scores of the routes that shadow-sample (empty otherwise).
    public let consistency: ConsistencyScores
    public let requestTimeout: Duration
    /// Probability of trying an untried or recently recovered candidate first (latency and cost strategies).
    public let exploration: Double
    private let budgets: [String: RetryBudget]
    private let loads: [String: RouteLoad]
    private let random: Mutex<SplitMix64>

    public init(
        catalog: ModelCatalog,
        pricing: PricingIndex,
        statistics: RoutingStatistics,
        consistency: ConsistencyScores? = nil,
        requestTimeout: Duration,
        exploration: Double = 0.05,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max)
    ) {
        self.catalog = catalog
        self.pricing = pricing
        self.statistics = statistics
        self.consistency = consistency ?? ConsistencyScores(routes: catalog.routeNames.compactMap(catalog.route(named:)))
        self.requestTimeout = requestTimeout
        self.exploration = exploration
        self.budgets = Dictionary(uniqueKeysWithValues: catalog.routeNames.map { ($0, RetryBudget()) })
        self.loads = Dictionary(uniqueKeysWithValues: catalog.routeNames.compactMap { name in
            catalog.route(named: name).map { (name, RouteLoad(route: $0)) }
        })
        self.random = Mutex(SplitMix64(seed: seed))
    }

    public func plan(for request: RoutingRequest, now: ContinuousClock.Instant) throws(GatewayError) -> RoutingPlan {
        if let entry = catalog.entry(named: request.model) {
            return RoutingPlan(attempts: [entry], deadline: now + requestTimeout)
        }
        guard let route = catalog.route(named: request.model) else { throw GatewayError.modelNotFound(request.model) }
        let load = loads[route.name]
        let bar = load?.barForNextRequest() ?? route.minQuality
        let (ranked, reason) = rank(route, bar: bar, request: request, now: now)
        // A provider that asked for quiet (`retry-after`) is not called before then, not even as the last
        // resort: the call would be refused and restart its hold. When nobody else is left, the gateway
        // answers for them, with what is left of the shortest hold.
        let order = ranked.filter { !$0.coolingDown }
        if order.isEmpty,
           let wait = ranked.compactMap({ statistics.stats(for: $0.model)?.coolingDownFor(at: statistics.now) }).min() {
            throw GatewayError.routeHeldBack(route: route.name, for: wait)
        }
        let attempts = order.compactMap { catalog.entry(named: $0.model) }
        let decision = RoutingDecision(
            route: route.name,
            strategy: route.strategy,
            reason: reason,
            minQuality: bar,
            candidates: attempts.map(\.model.name),
            estimatedCostUSD: order.first?.expectedCost
        )
        let budget = budgets[route.name]
        budget?.recordRequest(at: now)
        return RoutingPlan(attempts: attempts, deadline: now + requestTimeout, decision: decision, retries: route.retries, retryBudget: budget, load: load)
    }

    /// The quality bar that applies to the route now (its `under_load` bar while loaded).
    public func currentBar(of route: RouteConfiguration) -> Double? {
        loads[route.name]?.currentBar ?? route.minQuality
    }

    /// The route's calls in flight.
    public func callsInFlight(of route: RouteConfiguration) -> Int {
        loads[route.name]?.callsInFlight ?? 0
    }

    /// Why a candidate would not be chosen first now (nil: it is eligible), as `GET /admin/routing` shows.
    public func ineligibility(of model: String, in route: RouteConfiguration) -> String? {
        guard let entry = catalog.entry(named: model), let stats = statistics.stats(for: model) else { return "unknown" }
        if let bar = currentBar(of: route), (entry.model.quality ?? 0) < bar { return "below_quality_bar" }
        if !consistency.isEligible(model, in: route.name) { return "inconsistent" }
        let now = statistics.now
        if stats.isEjected(at: now) { return "ejected" }
        if stats.isCoolingDown(at: now) { return "retry_after" }
        // Over the budget for streams and whole answers alike: a model whose first token fits serves a
        // route's streams (the router judges a stream by it), so it is eligible.
        if let budget = route.latencyBudget {
            let snapshot = stats.snapshot(at: now)
            let whole = Self.predictedP95(snapshot, stream: false)
            let stream = Self.predictedP95(snapshot, stream: true)
            if let whole, whole > budget, (stream ?? whole) > budget { return "over_latency_budget" }
        }
        return nil
    }

    /// The p95 latency a request can expect of a model (of its first chunk, for a stream): the window's, or
    /// when the window has emptied the peak-EWMA it left, so a model measured over the budget stays over it
    /// until it is measured again (exploration), rather than taking the route's whole traffic back.
    static func predictedP95(_ snapshot: EndpointSnapshot, stream: Bool) -> Duration? {
        let p95 = stream ? snapshot.timeToFirstChunkP95 ?? snapshot.latencyP95 : snapshot.latencyP95
        if let p95 { return p95 }
        let peak = stream ? snapshot.peakTimeToFirstChunk ?? snapshot.peakLatency : snapshot.peakLatency
        return peak.map { .microseconds(Int64($0 * 1e6)) }
    }

    /// One candidate as this request sees it.
    struct Candidate {
        var model: String
        var snapshot: EndpointSnapshot
        var ejected: Bool
        var coolingDown: Bool
        var expectedCost: Double?
        /// Seconds: the whole call, or the first chunk for a stream.
        var expectedLatency: Double?
        var predictedP95: Duration?
    }

    func rank(_ route: RouteConfiguration, bar: Double?, request: RoutingRequest, now: ContinuousClock.Instant) -> (order: [Candidate], reason: RoutingReason) {
        let statisticsNow = statistics.now
        var meetingBar: [Candidate] = []
        let snapshots = route.candidates.compactMap { name -> (ModelCatalog.Entry, EndpointStats, EndpointSnapshot)? in
            guard let entry = catalog.entry(named: name), let stats = statistics.stats(for: name) else { return nil }
            if let bar, (entry.model.quality ?? 0) < bar { return nil }
            return (entry, stats, stats.snapshot(at: statisticsNow))
        }
        // A candidate with too few answers of its own is assumed to answer as long as the others do: an
        // unmeasured model must not look cheaper or dearer than a measured one for want of data.
        let measured = snapshots.compactMap { $0.2.samples >= 5 ? $0.2.meanOutputTokens : nil }
        let typicalOutput = measured.isEmpty ? Double(request.maxOutputTokens ?? 256) : measured.reduce(0, +) / Double(measured.count)
        for (entry, stats, snapshot) in snapshots {
            let name = entry.model.name
            let price = pricing.price(for: name)
            let outputTokens = snapshot.samples >= 5 ? snapshot.meanOutputTokens ?? typicalOutput : typicalOutput
            let cost = price.map { (Double(request.estimatedInputTokens) * $0.input + outputTokens * $0.output) / 1_000_000 }
            let latency = request.stream ? snapshot.peakTimeToFirstChunk ?? snapshot.peakLatency : snapshot.peakLatency
            let p95 = Self.predictedP95(snapshot, stream: request.stream)
            meetingBar.append(Candidate(
                model: name,
                snapshot: snapshot,
                ejected: snapshot.ejected,
                coolingDown: stats.isCoolingDown(at: statisticsNow),
                expectedCost: cost,
                expectedLatency: latency,
                predictedP95: p95
            ))
        }
        // Answers that stopped agreeing with the reference: only when nothing else is left.
        let inconsistent = meetingBar.filter { !consistency.isEligible($0.model, in: route.name) }
        if !inconsistent.isEmpty {
            meetingBar.removeAll { candidate in inconsistent.contains { $0.model == candidate.model } }
        }
        let healthy = meetingBar.filter { !$0.ejected && !$0.coolingDown }
        let fits = healthy.filter { candidate in
            guard let budget = route.latencyBudget, let p95 = candidate.predictedP95 else { return true }
            return p95 <= budget
        }
        let overBudget = healthy.filter { candidate in !fits.contains { $0.model == candidate.model } }
        let sidelined = meetingBar.filter { $0.ejected || $0.coolingDown }
            .sorted { ($0.snapshot.ejectedFor ?? .zero) < ($1.snapshot.ejectedFor ?? .zero) }

        var (ordered, reason) = order(fits, route: route)
        // Over the budget on old evidence only (nothing in the window): tried now and then like any stale
        // candidate, so a model that has become fast again is seen to.
        let staleOverBudget = overBudget.filter { $0.snapshot.samples == 0 }
        if let explored = explore(fits + staleOverBudget, best: ordered.first, route: route, now: statisticsNow) {
            ordered.removeAll { $0.model == explored.model }
            ordered.insert(explored, at: 0)
            reason = .exploration
        }
        let rest = order(overBudget.filter { candidate in !ordered.contains { $0.model == candidate.model } }, route: route).order + sidelined + inconsistent
        if ordered.isEmpty {
            reason = !overBudget.isEmpty ? .overBudget : sidelined.isEmpty && !inconsistent.isEmpty ? .allInconsistent : .allEjected
        }
        return (ordered + rest, reason)
    }

    /// The strategy's order of the eligible candidates.
    func order(_ candidates: [Candidate], route: RouteConfiguration) -> (order: [Candidate], reason: RoutingReason) {
        guard candidates.count > 1 else { return (candidates, reasonOfStrategy(route.strategy)) }
        switch route.strategy {
        case .fallback:
            return (candidates, .firstEligible)
        case .weighted:
            var remaining = candidates
            var ordered: [Candidate] = []
            // Drawn one after another without replacement, so the fallbacks follow the weights too.
            while !remaining.isEmpty {
                let weights = remaining.map { max(route.weights[$0.model] ?? 1, 0) }
                let total = weights.reduce(0, +)
                var pick = 0
                if total > 0 {
                    var draw = random.withLock { $0.nextUnit() } * total
                    for (index, weight) in weights.enumerated() {
                        draw -= weight
                        if draw < 0 { pick = index; break }
                        pick = index
                    }
                }
                ordered.append(remaining.remove(at: pick))
            }
            return (ordered, .weighted)
        case .latency:
            // Power of two choices over peak-EWMA latency: not always the fastest, so a herd does not
            // pile onto one candidate; an unmeasured one counts as fast, so it gets measured.
            var sorted = candidates.sorted { ($0.expectedLatency ?? 0) < ($1.expectedLatency ?? 0) }
            let (first, second) = random.withLock { random -> (Int, Int) in
                let a = random.nextIndex(below: candidates.count)
                var b = random.nextIndex(below: candidates.count - 1)
                if b >= a { b += 1 }
                return (a, b)
            }
            let pair = [candidates[first], candidates[second]]
            let winner = pair.min { ($0.expectedLatency ?? 0) < ($1.expectedLatency ?? 0) }!
            sorted.removeAll { $0.model == winner.model }
            return ([winner] + sorted, .lowestLatency)
        case .cost:
            let score = { (candidate: Candidate) -> Double in
                (candidate.expectedCost ?? 0) + route.valueOfTime * (candidate.expectedLatency ?? 0)
            }
            return (candidates.sorted { score($0) < score($1) }, .lowestCost)
        }
    }

    private func reasonOfStrategy(_ strategy: RouteConfiguration.Strategy) -> RoutingReason {
        switch strategy {
        case .fallback: .firstEligible
        case .weighted: .weighted
        case .latency: .lowestLatency
        case .cost: .lowestCost
        }
    }

    /// Now and then, an eligible candidate with no recent samples (untried, or not chosen for a minute,
    /// or back from an ejection in the last half minute), so its statistics never go stale. Only one that could win:
    /// for `cost`, one whose expected cost alone is below the best candidate's score (what it lacks is a
    /// latency measurement, which can only add to its score).
    private func explore(_ candidates: [Candidate], best: Candidate?, route: RouteConfiguration, now: ContinuousClock.Instant) -> Candidate? {
        guard route.strategy == .cost || route.strategy == .latency, candidates.count > 1, exploration > 0, let best else { return nil }
        let bestScore = (best.expectedCost ?? 0) + route.valueOfTime * (best.expectedLatency ?? 0)
        let stale = candidates.filter { candidate in
            guard candidate.model != best.model else { return false }
            // Nothing measured in the window (never tried, or not for a minute), or back from an ejection.
            let unsure = candidate.snapshot.samples == 0 || (candidate.snapshot.recoveredAt.map { $0.duration(to: now) < .seconds(30) } ?? false)
            guard unsure else { return false }
            return route.strategy == .latency || (candidate.expectedCost ?? 0) < bestScore
        }
        guard !stale.isEmpty else { return nil }
        return random.withLock { random in
            random.nextUnit() < exploration ? stale[random.nextIndex(below: stale.count)] : nil
        }
    }
}
