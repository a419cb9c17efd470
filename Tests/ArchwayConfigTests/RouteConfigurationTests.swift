import ArchwayConfig
import ArchwayCore
import Testing

@Suite struct RouteConfigurationTests {
    let loader = ConfigurationLoader(environment: [:])

    static let models = """
    providers:
      p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
    models:
      deepseek-chat:
        provider: p
        price:
          input: 0.27
          output: 1.10
          cached_input: 0.07
          schedule:
            - {hours: "16:30-00:30", input: 0.135, output: 0.55}
        quality: 0.78
      gpt-4o: {provider: p, price: {input: 2.5, output: 10}, quality: 0.90}
      claude-sonnet: {provider: p, price: {input: 3, output: 15}, quality: 0.93}

    """

    @Test func loadsTheContractShape() throws {
        let configuration = try loader.load(yaml: Self.models + """
        pricing:
          file: prices.yaml
        routes:
          smart:
            strategy: cost
            candidates: [deepseek-chat, gpt-4o, claude-sonnet]
            min_quality: 0.85
            latency_budget_ms: 4000
            value_of_time: 0.002
            retries: {max: 2, backoff_ms: 100, on: [429, 5xx, timeout]}
            ejection: {consecutive_failures: 3, failure_rate: 0.3, min_calls: 20, base_ms: 5000}
            under_load: {in_flight_above: 64, min_quality: 0.75}
          spread:
            strategy: weighted
            candidates: [gpt-4o, claude-sonnet]
            weights: {gpt-4o: 3, claude-sonnet: 1}
        """, file: "/etc/archway/archway.yaml")
        let smart = try #require(configuration.routes.first)
        #expect(smart.name == "smart")
        #expect(smart.strategy == .cost)
        #expect(smart.candidates == ["deepseek-chat", "gpt-4o", "claude-sonnet"])
        #expect(smart.minQuality == 0.85)
        #expect(smart.latencyBudget == .milliseconds(4000))
        #expect(smart.valueOfTime == 0.002)
        #expect(smart.retries == .init(max: 2, backoff: .milliseconds(100), on: [.rateLimited, .serverError, .timeout]))
        #expect(smart.ejection == .init(consecutiveFailures: 3, failureRate: 0.3, minCalls: 20, base: .seconds(5)))
        #expect(configuration.routes.last?.ejection == .init(consecutiveFailures: 3, failureRate: 0.5, minCalls: 10, base: .seconds(5)))
        #expect(smart.underLoad == .init(inFlightAbove: 64, minQuality: 0.75))
        #expect(configuration.routes.last?.weights == ["gpt-4o": 3, "claude-sonnet": 1])
        #expect(configuration.pricing.file == "/etc/archway/prices.yaml")
        let deepseek = try #require(configuration.models.first)
        #expect(deepseek.quality == 0.78)
        #expect(deepseek.priceSchedule.first?.window == DailyWindow(start: 16 * 60 + 30, end: 30))
        #expect(deepseek.priceSchedule.first?.price == ModelPrice(input: 0.135, output: 0.55))
    }

    @Test(arguments: [
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o, gpt-5]}}", "routes.smart.candidates[1]", "unknown candidate 'gpt-5'"),
        ("routes: {gpt-4o: {strategy: fallback, candidates: [claude-sonnet]}}", "routes.gpt-4o", "has the name of a model"),
        ("routes: {smart: {strategy: fallback, candidates: [deepseek-chat, gpt-4o], min_quality: 0.95}}", "routes.smart.min_quality", "no candidate meets min_quality 0.95"),
        ("routes: {smart: {strategy: cost, candidates: [gpt-4o], weights: {gpt-4o: 2}}}", "routes.smart.weights", "weights apply only to strategy: weighted"),
        ("routes: {smart: {strategy: cheapest, candidates: [gpt-4o]}}", "routes.smart.strategy", "unknown strategy 'cheapest'"),
        ("routes: {smart: {strategy: weighted, candidates: [gpt-4o], weights: {claude-sonnet: 1}}}", "routes.smart.weights.claude-sonnet", "is not a candidate"),
        ("routes: {smart: {strategy: weighted, candidates: [gpt-4o, claude-sonnet], weights: {gpt-4o: 0, claude-sonnet: 0}}}", "routes.smart.weights", "every candidate weighs 0"),
        ("routes: {smart: {strategy: fallback, retries: {on: [404]}, candidates: [gpt-4o]}}", "routes.smart.retries.on[0]", "unknown condition '404'"),
        ("routes: {smart: {strategy: fallback}}", "routes.smart.candidates", "missing required key 'candidates'"),
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o], min_quality: 0.85, under_load: {in_flight_above: 8, min_quality: 0.9}}}", "routes.smart.under_load.min_quality", "must not be above"),
        // No bar is the lowest bar: an under_load bar would make the route stricter under load, not looser.
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o], under_load: {in_flight_above: 8, min_quality: 0.5}}}", "routes.smart.under_load", "which this route does not set"),
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o], under_load: {in_flight_above: 8}}}", "routes.smart.under_load", "needs both"),
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o], ejection: {failure_rate: 1.5}}}", "routes.smart.ejection.failure_rate", "between"),
        ("routes: {smart: {strategy: fallback, candidates: [gpt-4o], ejection: {min_calls: 0}}}", "routes.smart.ejection.min_calls", "between"),
    ])
    func routeProblemsAreLocated(yaml: String, keyPath: String, message: String) {
        do {
            _ = try loader.load(yaml: Self.models + yaml)
            Issue.record("accepted: \(yaml)")
        } catch {
            let problem = error.problems.first { $0.keyPath == keyPath }
            #expect(problem?.message.contains(message) == true, "\(error.description)")
            #expect(problem?.line == 15, "the route's own line")
        }
    }

    /// An invalid value is reported once, at its key: not again as a key that is missing.
    @Test func anInvalidUnderLoadThresholdIsOneProblem() {
        do {
            _ = try loader.load(yaml: Self.models + "routes: {smart: {strategy: fallback, candidates: [gpt-4o], min_quality: 0.8, under_load: {in_flight_above: 0, min_quality: 0.5}}}")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.keyPath) == ["routes.smart.under_load.in_flight_above"], "\(error.description)")
        }
    }

    @Test func overlappingScheduleWindowsAreRejected() {
        let yaml = """
        providers: {p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}}
        models:
          m:
            provider: p
            price:
              input: 1
              output: 2
              schedule:
                - {hours: "22:00-02:00", input: 0.5, output: 1}
                - {hours: "01:00-03:00", input: 0.4, output: 1}
        """
        #expect {
            try loader.load(yaml: yaml)
        } throws: { error in
            let problem = (error as? ConfigurationError)?.problems.first
            return problem?.keyPath == "models.m.price.schedule[1].hours" && problem?.line == 10 && problem?.message.contains("overlaps 22:00-02:00") == true
        }
    }

    @Test func anInvalidPriceIsReportedOnceAtItsValue() {
        let yaml = """
        providers: {p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}}
        models:
          m:
            provider: p
            price: {input: -1, output: 2}
        """
        #expect {
            try loader.load(yaml: yaml)
        } throws: { error in
            let problems = (error as? ConfigurationError)?.problems ?? []
            return problems.count == 1 && problems[0].keyPath == "models.m.price.input" && problems[0].message.contains("between")
        }
    }

    @Test func aCostRouteNeedsPricesAndAPricingDocumentIsChecked() throws {
        let unpriced = Self.models.replacingOccurrences(of: "gpt-4o: {provider: p, price: {input: 2.5, output: 10}, quality: 0.90}", with: "gpt-4o: {provider: p, quality: 0.90}")
        #expect(throws: ConfigurationError.self) {
            try loader.load(yaml: unpriced + "routes: {smart: {strategy: cost, candidates: [gpt-4o]}}")
        }
        let prices = try loader.loadPricing(yaml: #"{"models": {"gpt-4o": {"input": 1.25, "output": 5, "schedule": [{"hours": "00:00-06:00", "input": 1, "output": 4}]}}}"#, knownModels: ["gpt-4o"])
        #expect(prices["gpt-4o"]?.base == ModelPrice(input: 1.25, output: 5))
        #expect(prices["gpt-4o"]?.entries.count == 1)
        #expect(throws: ConfigurationError.self) {
            try loader.loadPricing(yaml: #"{"models": {"gpt-5": {"input": 1, "output": 2}}}"#, knownModels: ["gpt-4o"])
        }
    }

    @Test func consistencyLoadsWithDefaultsAndRejectsWhatCannotWork() throws {
        let configuration = try loader.load(yaml: Self.models + """
        routes:
          smart:
            strategy: cost
            candidates: [deepseek-chat, gpt-4o, claude-sonnet]
            consistency: {reference: claude-sonnet, sample_rate: 0.05, window: 50, min_score: 0.6, embeddings: gpt-4o}
          plain:
            strategy: cost
            candidates: [deepseek-chat, gpt-4o]
            consistency: {reference: gpt-4o}
        shadow: {max_concurrency: 2, queue_size: 16}
        """)
        let smart = try #require(configuration.routes.first?.consistency)
        #expect(smart.reference == "claude-sonnet" && smart.sampleRate == 0.05 && smart.window == 50 && smart.minScore == 0.6)
        #expect(smart.embeddings == "gpt-4o" && smart.minSamples == 10 && smart.recoveryRate == 0.05)
        let plain = try #require(configuration.routes.last?.consistency)
        #expect(plain.sampleRate == 0.05 && plain.window == 50 && plain.minScore == 0.6 && plain.embeddings == nil)
        #expect(configuration.shadow == ShadowSettings(maxConcurrency: 2, queueSize: 16))

        let anthropic = Self.models.replacingOccurrences(
            of: "providers:\n  p: {kind: openai, base_url: \"http://127.0.0.1:9/v1\"}",
            with: "providers:\n  p: {kind: openai, base_url: \"http://127.0.0.1:9/v1\"}\n  a: {kind: anthropic, base_url: \"http://127.0.0.1:9/v1\"}"
        ) + "  claude-embed: {provider: a}\n"
        let cases: [(String, String, String)] = [
            ("{reference: gpt-9}", "routes.smart.consistency.reference", "unknown reference model 'gpt-9'"),
            ("{reference: gpt-4o, sample_rate: 1.5}", "routes.smart.consistency.sample_rate", "between 0"),
            ("{reference: gpt-4o, sample_rate: 0}", "routes.smart.consistency.sample_rate", "above 0"),
            ("{reference: gpt-4o, window: 0}", "routes.smart.consistency.window", "between 1 and 10000"),
            ("{reference: gpt-4o, min_score: -1}", "routes.smart.consistency.min_score", "between 0.0 and 1.0"),
            ("{reference: gpt-4o, window: 5, min_samples: 6}", "routes.smart.consistency.min_samples", "cannot exceed window"),
            ("{sample_rate: 0.1}", "routes.smart.consistency.reference", "missing required key 'reference'"),
            ("{reference: gpt-4o, embeddings: claude-embed}", "routes.smart.consistency.embeddings", "cannot serve embeddings"),
            ("{reference: gpt-4o, rate: 1}", "routes.smart.consistency.rate", "unknown key"),
        ]
        for (settings, keyPath, message) in cases {
            let yaml = anthropic + "routes:\n  smart: {strategy: cost, candidates: [deepseek-chat, gpt-4o], consistency: \(settings)}\n"
            #expect {
                try loader.load(yaml: yaml)
            } throws: { error in
                let problems = (error as? ConfigurationError)?.problems ?? []
                return problems.contains { problem in problem.keyPath == keyPath && problem.message.contains(message) && problem.line > 0 }
            }
        }
    }
}
