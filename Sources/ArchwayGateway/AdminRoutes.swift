import ArchwayConfig
import ArchwayCore
import ArchwayRouting
import ArchwayWire
import Hummingbird
import Logging
import NIOCore

/// `GET /admin/routing` (each route's candidates with their live statistics, effective price and
/// eligibility), `GET /admin/pricing` (the prices in force) and `PUT /admin/pricing` (replace prices
/// without a restart). Behind `server.master_key` like `/v1/*`.
struct AdminRoutes: Sendable {
    let catalog: ModelCatalog
    let pricing: PricingIndex
    let statistics: RoutingStatistics
    let policy: AdaptiveRoutingPolicy
    let loader: ConfigurationLoader
    let maxBodyBytes: Int
    let logger: Logger

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/admin/routing") { _, _ in try Response.json(WireJSON.encode(routing())) }
        router.get("/admin/pricing") { _, _ in try Response.json(WireJSON.encode(prices())) }
        router.put("/admin/pricing") { request, _ in try await replacePrices(request) }
    }

    func routing() -> JSONValue {
        let now = statistics.now
        var routes: [String: JSONValue] = [:]
        for name in catalog.routeNames {
            guard let route = catalog.route(named: name) else { continue }
            let candidates = route.candidates.map { model -> JSONValue in
                var entry = endpoint(model, at: now)
                let why = policy.ineligibility(of: model, in: route)
                entry["eligible"] = .bool(why == nil)
                entry["ineligible_because"] = why.map(JSONValue.string) ?? .null
                entry["weight"] = route.strategy == .weighted ? .number(route.weights[model] ?? 1) : .null
                if let settings = route.consistency {
                    entry["consistency"] = consistency(of: model, in: route.name, settings: settings)
                }
                return .object(entry)
            }
            routes[name] = .object([
                "strategy": .string(route.strategy.rawValue),
                "min_quality": route.minQuality.map(JSONValue.number) ?? .null,
                "current_min_quality": policy.currentBar(of: route).map(JSONValue.number) ?? .null,
                "in_flight": .number(Double(policy.callsInFlight(of: route))),
                "consistency": route.consistency.map { settings in
                    .object([
                        "reference": .string(settings.reference),
                        "sample_rate": .number(settings.sampleRate),
                        "window": .number(Double(settings.window)),
                        "min_score": .number(settings.minScore),
                        "min_samples": .number(Double(settings.minSamples)),
                        "recovery_sample_rate": .number(settings.recoveryRate),
                        "embeddings": settings.embeddings.map(JSONValue.string) ?? .null,
                    ])
                } ?? .null,
                "latency_budget_ms": route.latencyBudget.map { .number(Double($0.milliseconds)) } ?? .null,
                "value_of_time": .number(route.valueOfTime),
                "candidates": .array(candidates),
            ])
        }
        var models: [String: JSONValue] = [:]
        for name in catalog.names {
            models[name] = .object(endpoint(name, at: now))
        }
        return .object(["routes": .object(routes), "models": .object(models)])
    }

    /// A candidate's consistency in a route: its windowed score, samples and whether it may be chosen.
    func consistency(of model: String, in route: String, settings: RouteConfiguration.Consistency) -> JSONValue {
        guard model != settings.reference else {
            return .object(["reference": .bool(true), "score": .number(1), "samples": .null, "eligible": .bool(true)])
        }
        guard let summary = policy.consistency.summary(of: model, in: route) else { return .null }
        return .object([
            "reference": .bool(false),
            "score": summary.mean.map(JSONValue.number) ?? .null,
            "samples": .number(Double(summary.samples)),
            "eligible": .bool(summary.eligible),
        ])
    }

    /// A model's live figures and the price in force.
    func endpoint(_ model: String, at now: ContinuousClock.Instant) -> [String: JSONValue] {
        var entry: [String: JSONValue] = ["model": .string(model)]
        entry["quality"] = catalog.entry(named: model)?.model.quality.map(JSONValue.number) ?? .null
        entry["price"] = pricing.price(for: model).map(Self.json) ?? .null
        guard let snapshot = statistics.stats(for: model)?.snapshot(at: now) else { return entry }
        let milliseconds = { (duration: Duration?) -> JSONValue in duration.map { .number(Double($0.milliseconds)) } ?? .null }
        entry["samples"] = .number(Double(snapshot.samples))
        entry["latency_p50_ms"] = milliseconds(snapshot.latencyP50)
        entry["latency_p95_ms"] = milliseconds(snapshot.latencyP95)
        entry["time_to_first_token_p50_ms"] = milliseconds(snapshot.timeToFirstChunkP50)
        entry["time_to_first_token_p95_ms"] = milliseconds(snapshot.timeToFirstChunkP95)
        entry["output_tokens_per_second"] = snapshot.outputTokensPerSecond.map(JSONValue.number) ?? .null
        entry["calls"] = .number(Double(snapshot.calls))
        entry["error_rate"] = .number(snapshot.errorRate)
        entry["rate_limited_rate"] = .number(snapshot.rateLimitedRate)
        entry["in_flight"] = .number(Double(snapshot.inFlight))
        entry["consecutive_failures"] = .number(Double(snapshot.consecutiveFailures))
        entry["ejected"] = .bool(snapshot.ejected)
        entry["ejected_for_ms"] = milliseconds(snapshot.ejectedFor)
        entry["ejections"] = .number(Double(snapshot.ejections))
        entry["rate_limit"] = .object([
            "remaining_requests": snapshot.rateLimit?.remainingRequests.map { .number(Double($0)) } ?? .null,
            "remaining_tokens": snapshot.rateLimit?.remainingTokens.map { .number(Double($0)) } ?? .null,
        ])
        return entry
    }

    func prices() -> JSONValue {
        var models: [String: JSONValue] = [:]
        for (name, schedule) in pricing.all {
            var entry: [String: JSONValue] = ["in_force": pricing.price(for: name).map(Self.json) ?? .null]
            guard case .object(let base) = Self.json(schedule.base) else { continue }
            entry.merge(base) { current, _ in current }
            entry["schedule"] = .array(schedule.entries.map { scheduled in
                guard case .object(var price) = Self.json(scheduled.price) else { return .null }
                price["hours"] = .string(scheduled.window.description)
                return .object(price)
            })
            models[name] = .object(entry)
        }
        return .object(["models": .object(models)])
    }

    func replacePrices(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let replaced: [String: PriceSchedule]
        do {
            replaced = try loader.loadPricing(yaml: String(buffer: body), file: "request body", knownModels: Set(catalog.names))
        } catch {
            if request.head.hasEncodedBody { throw GatewayError.encodedBody }
            throw GatewayError.invalidRequest(error.description, code: "invalid_pricing")
        }
        pricing.replace(replaced)
        logger.info("prices replaced", metadata: ["models": "\(replaced.keys.sorted().joined(separator: ","))"])
        return try Response.json(WireJSON.encode(prices()))
    }

    static func json(_ price: ModelPrice) -> JSONValue {
        .object([
            "input": .number(price.input),
            "output": .number(price.output),
            "cached_input": price.cachedInput.map(JSONValue.number) ?? .null,
        ])
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
