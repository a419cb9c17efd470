import ArchwayConfig
import ArchwayCore
import ArchwayRouting
import Testing

@Suite struct AdaptiveRoutingPolicyTests {
    @Test func fallbackKeepsTheConfiguredOrderAndSkipsCandidatesBelowTheBar() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid, top], min_quality: 0.85}")
        let (models, decision) = try fixture.order("smart")
        #expect(models == ["mid", "top"])
        #expect(decision?.reason == .firstEligible)
        #expect(decision?.minQuality == 0.85)
        #expect(decision?.candidates == ["mid", "top"])
    }

    @Test func aCandidateWhoseAnswersDriftIsChosenOnlyWhenNothingElseIsLeft() throws {
        let fixture = try RoutingFixture(routes: """
          smart:
            strategy: cost
            candidates: [cheap, mid, top]
            consistency: {reference: top, min_samples: 3, window: 5}
        """)
        #expect(try fixture.order("smart").models == ["cheap", "mid", "top"])
        let consistency = fixture.policy.consistency
        for _ in 0..<3 { consistency.record(0.1, model: "cheap", route: "smart") }
        let (models, decision) = try fixture.order("smart")
        #expect(models == ["mid", "top", "cheap"])
        #expect(decision?.reason == .lowestCost)
        let route = try #require(fixture.policy.catalog.route(named: "smart"))
        #expect(fixture.policy.ineligibility(of: "cheap", in: route) == "inconsistent")
        #expect(fixture.policy.ineligibility(of: "mid", in: route) == nil)
        // Every other candidate ejected: the inconsistent one is still tried, last.
        for _ in 0..<3 {
            fixture.call("mid", error: RoutingFixture.unavailable)
            fixture.call("top", error: RoutingFixture.unavailable)
        }
        #expect(try fixture.order("smart").models.last == "cheap")
    }

    @Test func costPicksTheCheapestEligibleAndAPriceChangeFlipsIt() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid, top]}")
        #expect(try fixture.order("smart").models == ["cheap", "mid", "top"])
        // The top model becomes much cheaper: it now comes first.
        fixture.pricing.replace(["top": PriceSchedule(base: ModelPrice(input: 0.01, output: 0.02))])
        let (models, decision) = try fixture.order("smart")
        #expect(models.first == "top")
        #expect(decision?.reason == .lowestCost)
        let expected = (1_000 * 0.01 + 256 * 0.02) / 1_000_000
        #expect(abs((decision?.estimatedCostUSD ?? 0) - expected) < 1e-12)
    }

    @Test func aModelThePricingFileStopsNamingGoesBackToItsConfiguredPrice() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid, top]}")
        let configured = try #require(fixture.pricing.price(for: "top"))
        let cheaper = PriceSchedule(base: ModelPrice(input: 0.01, output: 0.02))
        fixture.pricing.replaceFromFile(["top": cheaper, "mid": cheaper])
        #expect(fixture.pricing.price(for: "top") == cheaper.base)
        fixture.pricing.replaceFromFile(["mid": cheaper])
        #expect(fixture.pricing.price(for: "top") == configured)
        #expect(fixture.pricing.price(for: "mid") == cheaper.base)
    }

    @Test func costUsesThePriceInForceAtTheTimeOfDay() throws {
        // 2026-12-01T17:00Z is inside cheap's 16:30-00:30 window.
        let offPeak = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap]}", unixSeconds: 1_796_144_400)
        #expect(offPeak.pricing.price(for: "cheap") == ModelPrice(input: 0.135, output: 0.55))
        let peak = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap]}", unixSeconds: 1_796_126_400)
        #expect(peak.pricing.price(for: "cheap") == ModelPrice(input: 0.27, output: 1.10))
    }

    @Test func valueOfTimeTradesCostForSpeed() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], value_of_time: 1.0}")
        for _ in 0..<10 {
            fixture.call("cheap", duration: .seconds(3))
            fixture.call("mid", duration: .milliseconds(200))
        }
        // A second is worth a dollar here: the fast model wins despite its price.
        #expect(try fixture.order("smart").models == ["mid", "cheap"])
    }

    @Test func latencyPrefersTheFasterOfTwoAndLearnsFromSlowdowns() throws {
        let fixture = try RoutingFixture(routes: "  fast: {strategy: latency, candidates: [cheap, mid]}")
        for _ in 0..<20 {
            fixture.call("cheap", duration: .milliseconds(900))
            fixture.call("mid", duration: .milliseconds(100))
        }
        #expect(try fixture.order("fast").models == ["mid", "cheap"])
        // One slow answer is seen at once (peak-EWMA).
        fixture.call("mid", duration: .seconds(3))
        #expect(try fixture.order("fast").models.first == "cheap")
    }

    @Test func weightedFollowsTheWeights() throws {
        let fixture = try RoutingFixture(routes: "  spread: {strategy: weighted, candidates: [mid, top], weights: {mid: 3, top: 1}}", seed: 42)
        var firsts: [String: Int] = [:]
        for _ in 0..<4_000 {
            firsts[try fixture.order("spread").models[0], default: 0] += 1
        }
        let share = Double(firsts["mid", default: 0]) / 4_000
        #expect(abs(share - 0.75) < 0.03, "mid first \(share)")
    }

    @Test func theLatencyBudgetSetsSlowCandidatesAside() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], latency_budget_ms: 1000}")
        for _ in 0..<10 { fixture.call("cheap", duration: .seconds(2)) }
        let (models, decision) = try fixture.order("smart")
        #expect(models == ["mid", "cheap"])
        #expect(decision?.reason == .lowestCost)
        for _ in 0..<10 { fixture.call("mid", duration: .seconds(2)) }
        #expect(try fixture.order("smart").decision?.reason == .overBudget)
    }

    @Test func ejectionDoublesAndTheLastHealthyCandidateIsNeverEjected() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, base_ms: 1000}}")
        let cheap = try #require(fixture.statistics.stats(for: "cheap"))
        for _ in 0..<2 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        #expect(!cheap.isEjected(at: fixture.clock.now))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(cheap.isEjected(at: fixture.clock.now))
        #expect(try fixture.order("smart").models == ["mid", "cheap"])
        // mid is now the last healthy candidate: however often it fails, it stays in.
        for _ in 0..<10 { fixture.call("mid", error: RoutingFixture.unavailable) }
        #expect(!(fixture.statistics.stats(for: "mid")?.isEjected(at: fixture.clock.now) ?? true))
        // The first ejection lasts the base; the second twice as long.
        fixture.clock.advance(by: .milliseconds(1001))
        #expect(!cheap.isEjected(at: fixture.clock.now))
        for _ in 0..<3 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        #expect(cheap.snapshot(at: fixture.clock.now).ejectedFor == .seconds(2))
        // One answer (a probe's) brings it back at once.
        fixture.call("cheap")
        #expect(!cheap.isEjected(at: fixture.clock.now))
    }

    /// A model that fails often, but never several times in a row, is ejected by its failure rate.
    @Test func aModelFailingOftenIsEjectedByItsFailureRate() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, failure_rate: 0.3, min_calls: 10, base_ms: 1000}}")
        let cheap = try #require(fixture.statistics.stats(for: "cheap"))
        // Two of every five fail, in a fixed pattern: never three in a row.
        func round() {
            for index in 0..<5 {
                if index % 5 < 2 { fixture.call("cheap", error: RoutingFixture.unavailable) } else { fixture.call("cheap") }
            }
        }
        round()
        round()
        #expect(!cheap.isEjected(at: fixture.clock.now), "its failures came before min_calls were made")
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(cheap.isEjected(at: fixture.clock.now), "5 of 11 calls failed")
        #expect(try fixture.order("smart").models == ["mid", "cheap"])
        // A good answer (a probe's) does not cut the ejection short: it says little about a failure rate.
        fixture.call("cheap")
        #expect(cheap.isEjected(at: fixture.clock.now))
        // Back after the base, it is judged on new calls: one failure does not eject it again.
        fixture.clock.advance(by: .milliseconds(1001))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(!cheap.isEjected(at: fixture.clock.now))
    }

    @Test func aModelFailingRarelyStays() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid]}")
        let cheap = try #require(fixture.statistics.stats(for: "cheap"))
        // One in five under the default rule (half of at least 10 calls).
        for index in 0..<40 {
            if index % 5 == 0 { fixture.call("cheap", error: RoutingFixture.unavailable) } else { fixture.call("cheap") }
        }
        #expect(!cheap.isEjected(at: fixture.clock.now))
    }

    @Test func statisticsSlideOutOfTheirWindow() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: latency, candidates: [cheap, mid]}")
        for index in 0..<20 { fixture.call("cheap", duration: .milliseconds(100 + index * 10)) }
        fixture.call("cheap", duration: .milliseconds(100), error: RoutingFixture.unavailable)
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        var snapshot = stats.snapshot(at: fixture.clock.now)
        #expect(snapshot.samples == 20)
        #expect(snapshot.calls == 21)
        #expect(abs((snapshot.errorRate) - 1.0 / 21) < 1e-9)
        let p95 = try #require(snapshot.latencyP95)
        #expect(p95 >= .milliseconds(270) && p95 <= .milliseconds(300), "\(p95)")
        #expect(snapshot.meanOutputTokens == 100)
        // A minute later the window holds nothing of it.
        fixture.clock.advance(by: .seconds(61))
        snapshot = stats.snapshot(at: fixture.clock.now)
        #expect(snapshot.samples == 0)
        #expect(snapshot.calls == 0)
        #expect(snapshot.latencyP95 == nil)
    }

    @Test func clientMistakesAndHangUpsDoNotCountAgainstAModel() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 2, base_ms: 1000}}")
        for _ in 0..<5 {
            fixture.call("cheap", error: .upstreamStatus(400, provider: "p", excerpt: nil))
            fixture.call("cheap", error: .clientClosed)
        }
        let snapshot = try #require(fixture.statistics.stats(for: "cheap")).snapshot(at: fixture.clock.now)
        #expect(!snapshot.ejected)
        #expect(snapshot.consecutiveFailures == 0)
        #expect(snapshot.inFlight == 0)
    }

    @Test func whenEveryCandidateIsEjectedTheOneReturningFirstIsTried() throws {
        let fixture = try RoutingFixture(routes: """
          a: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 1, base_ms: 1000}}
          b: {strategy: fallback, candidates: [cheap, top], ejection: {consecutive_failures: 1, base_ms: 1000}}
        """)
        fixture.call("top", error: RoutingFixture.unavailable)
        // cheap may go: route b still has... no, top is out, so cheap is b's last healthy candidate.
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(!(fixture.statistics.stats(for: "cheap")?.isEjected(at: fixture.clock.now) ?? true))
        #expect(try fixture.order("b").models == ["cheap", "top"])
        // A retry-after holds a model back without ejecting it.
        var limited = GatewayError.upstreamStatus(429, provider: "p", excerpt: nil)
        limited.retryAfter = .seconds(2)
        fixture.call("cheap", error: limited)
        // Held back, cheap is not called even as the last resort; the ejected one is.
        let (models, decision) = try fixture.order("b")
        #expect(models == ["top"])
        #expect(decision?.reason == .allEjected)
        #expect(decision?.candidates == ["top"])
        fixture.call("top", error: limited)
        let error = #expect(throws: GatewayError.self) { try fixture.order("b") }
        #expect(error?.status == .tooManyRequests && error?.retryAfter == .seconds(2))
    }

    @Test func aRetryAfterHoldsAModelBackWithoutEjectingIt() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 2, base_ms: 1000}}")
        var limited = GatewayError.upstreamStatus(429, provider: "p", excerpt: nil)
        limited.retryAfter = .seconds(5)
        for _ in 0..<6 { fixture.call("cheap", error: limited) }
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        let snapshot = stats.snapshot(at: fixture.clock.now)
        #expect(!snapshot.ejected)
        #expect(snapshot.consecutiveFailures == 0)
        #expect(snapshot.rateLimitedRate == 1)
        #expect(stats.isCoolingDown(at: fixture.clock.now))
        #expect(try fixture.order("smart").models == ["mid"], "no call to a provider that asked for quiet")
        fixture.clock.advance(by: .seconds(6))
        #expect(!stats.isCoolingDown(at: fixture.clock.now))
        #expect(try fixture.order("smart").models == ["cheap", "mid"])
    }

    /// Probes decide whether an ejection goes on, nothing else: their failures during an outage are not the
    /// model's calls, so one failure after it comes back does not eject it again (for twice as long).
    @Test func probesDuringAnOutageDoNotCountAgainstTheModelAfterIt() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, failure_rate: 0.5, min_calls: 10, base_ms: 20000}}")
        for _ in 0..<5 { fixture.call("cheap") }
        for _ in 0..<3 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        #expect(stats.isEjected(at: fixture.clock.now))
        for _ in 0..<16 {
            fixture.clock.advance(by: .milliseconds(500))
            fixture.probe("cheap", error: RoutingFixture.unavailable)
        }
        fixture.probe("cheap")
        #expect(!stats.isEjected(at: fixture.clock.now))
        fixture.call("cheap")
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(!stats.isEjected(at: fixture.clock.now), "one failure in two calls since it came back")
        #expect(stats.snapshot(at: fixture.clock.now).calls == 2)
    }

    /// A model whose last probe failed stays out when its time is up: one outage is one ejection, and no
    /// client request is sent to a model still down.
    @Test func aModelWhoseProbesFailStaysOutPastItsTime() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, base_ms: 5000}}")
        for _ in 0..<3 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        for _ in 0..<40 {
            fixture.clock.advance(by: .milliseconds(500))
            fixture.probe("cheap", error: RoutingFixture.unavailable)
            #expect(stats.isEjected(at: fixture.clock.now))
            #expect(try fixture.order("smart").models.first == "mid")
        }
        #expect(stats.snapshot(at: fixture.clock.now).ejections == 1)
        fixture.clock.advance(by: .milliseconds(500))
        fixture.probe("cheap")
        #expect(!stats.isEjected(at: fixture.clock.now))
        #expect(try fixture.order("smart").models.first == "cheap")
        // Without probes (a probe refused as the client's kind of mistake, say), the time still ends it.
        for _ in 0..<3 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        fixture.probe("cheap", error: GatewayError.upstreamStatus(400, provider: "p", excerpt: nil))
        fixture.clock.advance(by: .seconds(11))
        #expect(!stats.isEjected(at: fixture.clock.now))
    }

    /// A probe answered 429 with `retry-after` stops the probing until then: a provider that asked for quiet
    /// is not asked twice a second.
    @Test func probesWaitOutARetryAfter() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, base_ms: 5000}}")
        for _ in 0..<3 { fixture.call("cheap", error: RoutingFixture.unavailable) }
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        #expect(stats.awaitsProbe(at: fixture.clock.now))
        var limited = GatewayError.upstreamStatus(429, provider: "p", excerpt: nil)
        limited.retryAfter = .seconds(30)
        fixture.probe("cheap", error: limited)
        #expect(stats.isEjected(at: fixture.clock.now) && !stats.awaitsProbe(at: fixture.clock.now))
        fixture.clock.advance(by: .seconds(31))
        #expect(!stats.isEjected(at: fixture.clock.now), "no evidence for half a minute: its time has ended it")
    }

    /// A model that hangs fails its probe only at the probe's timeout: it stays out meanwhile, and after.
    @Test func aHangingModelStaysOutWhileItsProbeRuns() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 1, base_ms: 1000}}")
        fixture.call("cheap", error: GatewayError.upstreamTimeout(provider: "p", phase: "first byte"))
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        stats.probeStarted(until: fixture.clock.now + .seconds(5) + EndpointStats.probeHold)
        fixture.clock.advance(by: .seconds(5))
        #expect(stats.isEjected(at: fixture.clock.now), "past its own second, the probe still running")
        #expect(try fixture.order("smart").models.first == "mid")
        fixture.probe("cheap", error: GatewayError.upstreamTimeout(provider: "p", phase: "first byte"))
        fixture.clock.advance(by: .seconds(1))
        #expect(stats.isEjected(at: fixture.clock.now))
        #expect(stats.snapshot(at: fixture.clock.now).ejections == 1)
    }

    /// The ladder restarts only after five minutes back, never in the middle of one long outage.
    @Test func theEjectionLadderRestartsAfterFiveMinutesBackOnly() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 1, base_ms: 200000}}")
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(stats.snapshot(at: fixture.clock.now).ejectedFor == .seconds(200))
        fixture.clock.advance(by: .seconds(201))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(stats.snapshot(at: fixture.clock.now).ejectedFor == .seconds(300))
        fixture.clock.advance(by: .seconds(301))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(stats.snapshot(at: fixture.clock.now).ejectedFor == .seconds(300), "still the same outage")
        fixture.clock.advance(by: .seconds(301 + 300))
        fixture.call("cheap", error: RoutingFixture.unavailable)
        #expect(stats.snapshot(at: fixture.clock.now).ejectedFor == .seconds(200), "five minutes back: the count restarts")
    }

    /// `/admin/routing` and the eligible-candidates gauge judge a stream's budget as the router does, by
    /// its first token: a model serving a streaming route is not reported over the budget.
    @Test func aStreamsBudgetIsJudgedByItsFirstTokenEverywhere() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], latency_budget_ms: 1000}")
        for _ in 0..<10 { fixture.stream("cheap", firstChunk: .milliseconds(20), duration: .milliseconds(2500)) }
        let route = try #require(fixture.configuration.routes.first { $0.name == "smart" })
        #expect(try fixture.order("smart", stream: true).models.first == "cheap")
        #expect(fixture.policy.ineligibility(of: "cheap", in: route) == nil)
        for _ in 0..<10 { fixture.call("mid", duration: .milliseconds(2500)) }
        #expect(fixture.policy.ineligibility(of: "mid", in: route) == "over_latency_budget")
    }

    /// A model measured over the budget stays over it when its samples leave the window, instead of taking
    /// the route's whole traffic back, until exploration measures it again.
    @Test func aSlowModelStaysOverTheBudgetWhenItsSamplesAge() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], latency_budget_ms: 1000}", exploration: 0.05, seed: 3)
        for _ in 0..<10 { fixture.call("cheap", duration: .milliseconds(2500)) }
        fixture.call("mid")
        #expect(try fixture.order("smart").models.first == "mid")
        fixture.clock.advance(by: .seconds(70))
        fixture.call("mid")
        var first: [String: Int] = [:]
        for _ in 0..<400 { first[try fixture.order("smart").models.first ?? "", default: 0] += 1 }
        #expect((first["cheap"] ?? 0) < 60, "tried now and then only: \(first)")
        #expect((first["cheap"] ?? 0) > 0, "still tried, so a recovery is seen: \(first)")
    }

    /// One slow answer among many fast ones fades: the cheapest model is back within seconds, not a minute.
    @Test func oneOutlierFadesInsteadOfStarvingTheCheapestModel() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], value_of_time: 0.002}")
        for _ in 0..<20 {
            fixture.call("cheap", duration: .milliseconds(30))
            fixture.call("mid", duration: .milliseconds(30))
        }
        #expect(try fixture.order("smart").models.first == "cheap")
        fixture.call("cheap", duration: .seconds(20))
        #expect(try fixture.order("smart").models.first == "mid")
        fixture.clock.advance(by: .seconds(30))
        #expect(try fixture.order("smart").models.first == "cheap")
    }

    /// When every candidate's provider asked for quiet, the gateway answers 429 itself, with what is left
    /// of the shortest hold, instead of calling a provider that is still refusing.
    @Test func aRouteWhoseCandidatesAreAllHeldBackAnswersForThem() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid]}")
        var limited = GatewayError.upstreamStatus(429, provider: "p", excerpt: nil)
        limited.retryAfter = .seconds(30)
        fixture.call("cheap", error: limited)
        #expect(try fixture.order("smart").models == ["mid"], "one held back: the other serves")
        limited.retryAfter = .seconds(20)
        fixture.call("mid", error: limited)
        fixture.clock.advance(by: .seconds(5))
        let error = #expect(throws: GatewayError.self) { try fixture.order("smart") }
        #expect(error?.status == .tooManyRequests && error?.retryAfter == .seconds(15) && error?.route == "smart")
        fixture.clock.advance(by: .seconds(16))
        #expect(try fixture.order("smart").models == ["mid"], "mid back, cheap still held")
    }

    @Test func ratesStayRatesAcrossAnEjection() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid], ejection: {consecutive_failures: 3, base_ms: 1000}}")
        let limited = GatewayError.upstreamStatus(429, provider: "p", excerpt: nil)
        for _ in 0..<3 { fixture.call("cheap", error: limited) }
        let stats = try #require(fixture.statistics.stats(for: "cheap"))
        #expect(stats.isEjected(at: fixture.clock.now))
        fixture.clock.advance(by: .seconds(2))
        fixture.call("cheap")
        let snapshot = stats.snapshot(at: fixture.clock.now)
        #expect(snapshot.calls == 1)
        #expect(snapshot.rateLimitedRate == 0)
        #expect(snapshot.errorRate == 0)
    }

    @Test func explorationRetriesARecoveredCandidateThatCouldWin() throws {
        let fixture = try RoutingFixture(
            routes: "  smart: {strategy: cost, candidates: [cheap, mid], value_of_time: 1.0, ejection: {consecutive_failures: 2, base_ms: 1000}}",
            exploration: 0.2,
            seed: 7
        )
        for _ in 0..<10 {
            fixture.call("cheap", duration: .seconds(3))
            fixture.call("mid", duration: .milliseconds(200))
        }
        // cheap was slow, then failed and was ejected, then a probe got an answer: it is back, but its
        // latency figures are from before. Its price alone beats mid's score, so it is worth retrying.
        fixture.call("cheap", error: RoutingFixture.unavailable)
        fixture.call("cheap", error: RoutingFixture.unavailable)
        fixture.call("cheap", duration: .seconds(3))
        var reasons: [RoutingReason: Int] = [:]
        for _ in 0..<1_000 {
            let (models, decision) = try fixture.order("smart")
            reasons[decision?.reason ?? .firstEligible, default: 0] += 1
            if decision?.reason == .exploration { #expect(models.first == "cheap") }
        }
        #expect((150...250).contains(reasons[.exploration, default: 0]), "\(reasons)")
        #expect(reasons[.lowestCost, default: 0] > 700)
    }

    @Test func explorationLeavesOutCandidatesThatCannotWin() throws {
        // top is unmeasured but dearer than cheap on price alone: trying it could only cost more.
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, top]}", exploration: 0.5, seed: 3)
        for _ in 0..<10 { fixture.call("cheap") }
        for _ in 0..<200 {
            #expect(try fixture.order("smart").decision?.reason == .lowestCost)
        }
    }

    @Test func theBarRelaxesUnderLoadAndComesBackWithHysteresis() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: cost, candidates: [cheap, mid], min_quality: 0.85, under_load: {in_flight_above: 10, min_quality: 0.75}}")
        let normal = try fixture.policy.plan(for: RoutingRequest(model: "smart", estimatedInputTokens: 100), now: fixture.clock.now)
        #expect(normal.decision?.minQuality == 0.85)
        #expect(normal.attempts.map(\.model.name) == ["mid"])
        let load = try #require(normal.load)
        for _ in 0..<11 { load.enter() }
        // More than 10 in flight: cheap (0.78) meets the relaxed bar and, being cheaper, comes first.
        let loaded = try fixture.policy.plan(for: RoutingRequest(model: "smart", estimatedInputTokens: 100), now: fixture.clock.now)
        #expect(loaded.decision?.minQuality == 0.75)
        #expect(loaded.attempts.map(\.model.name) == ["cheap", "mid"])
        // Down to 9: still loaded (hysteresis until 8); at 8 the normal bar is back.
        load.leave(); load.leave()
        #expect(try fixture.order("smart").decision?.minQuality == 0.75)
        load.leave()
        // Back as the calls end, before any new request (what the gauge and /admin/routing show).
        #expect(fixture.policy.currentBar(of: try #require(fixture.configuration.routes.first)) == 0.85)
        #expect(try fixture.order("smart").decision?.minQuality == 0.85)
        #expect(fixture.policy.currentBar(of: try #require(fixture.configuration.routes.first)) == 0.85)
    }

    @Test func aModelNameIsServedByThatModelWithoutADecision() throws {
        let fixture = try RoutingFixture(routes: "  smart: {strategy: fallback, candidates: [cheap, mid]}")
        let (models, decision) = try fixture.order("top")
        #expect(models == ["top"])
        #expect(decision == nil)
        #expect(throws: GatewayError.modelNotFound("nope")) { try fixture.order("nope") }
    }

    @Test func theRetryBudgetCapsMovesToOtherCandidates() {
        let now = ContinuousClock.now
        let budget = RetryBudget(ratio: 0.2, minimum: 3, origin: now)
        for _ in 0..<10 { budget.recordRequest(at: now) }
        #expect((0..<5).map { _ in budget.withdraw(at: now) } == [true, true, true, false, false])
        for _ in 0..<90 { budget.recordRequest(at: now) }
        #expect((0..<20).filter { _ in budget.withdraw(at: now) }.count == 17)
        // Ten seconds later the window has moved on.
        #expect(budget.withdraw(at: now + .seconds(11)))
    }
}
