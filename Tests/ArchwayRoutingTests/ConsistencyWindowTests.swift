import ArchwayConfig
import ArchwayRouting
import Testing

@Suite struct ConsistencyWindowTests {
    let settings = RouteConfiguration.Consistency(reference: "ref", sampleRate: 1, window: 10, minScore: 0.6, minSamples: 4)

    @Test func aModelIsLeftOutOnlyAfterEnoughSamplesBelowTheBar() {
        var window = ConsistencyWindow(settings: settings)
        for _ in 0..<3 {
            let changed = window.record(0.1)
            #expect(!changed)
        }
        #expect(window.eligible, "three samples are not enough to judge")
        let changed = window.record(0.1)
        #expect(changed, "the fourth low score leaves it out")
        #expect(!window.eligible && window.samples == 4)
        #expect(abs(window.mean! - 0.1) < 1e-9)
    }

    @Test func aModelThatAnswersWellStaysEligible() {
        var window = ConsistencyWindow(settings: settings)
        for index in 0..<50 { window.record(index % 5 == 0 ? 0.3 : 0.95) }
        #expect(window.eligible)
        #expect(window.samples == 10)
    }

    @Test func comingBackNeedsTheBarPlusHysteresis() {
        var window = ConsistencyWindow(settings: settings)
        for _ in 0..<10 { window.record(0) }
        #expect(!window.eligible)
        // Good scores push the low ones out of the window: mean 0.6 is the bar, not enough to come back.
        for _ in 0..<6 { window.record(1) }
        #expect(abs(window.mean! - 0.6) < 1e-9)
        #expect(!window.eligible, "at the bar exactly it stays out (hysteresis)")
        let back = window.record(1)
        #expect(back, "0.7 ≥ 0.6 + 0.05: back")
        #expect(window.eligible)
        // Around the bar it does not flap: 0.59 leaves it out again only below the bar itself.
        window.record(0.8)
        #expect(window.eligible)
    }

    @Test func theWindowSlides() {
        var window = ConsistencyWindow(settings: RouteConfiguration.Consistency(reference: "r", window: 3, minSamples: 1))
        for score in [1.0, 1.0, 1.0, 0.0, 0.0] { window.record(score) }
        #expect(window.samples == 3)
        #expect(abs(window.mean! - 1.0 / 3.0) < 1e-9)
        // Out-of-range and non-finite scores are clamped.
        window.record(7)
        window.record(.nan)
        #expect(abs(window.mean! - 1.0 / 3.0) < 1e-9)
    }

    @Test func scoresAreKeptPerRouteAndNeverForTheReference() throws {
        let routes = [
            RouteConfiguration(name: "r1", strategy: .cost, candidates: ["a", "b", "ref"], consistency: settings),
            RouteConfiguration(name: "r2", strategy: .cost, candidates: ["a", "ref"]),
        ]
        let scores = ConsistencyScores(routes: routes)
        #expect(scores.isScored("a", in: "r1") && !scores.isScored("ref", in: "r1") && !scores.isScored("a", in: "r2"))
        #expect(scores.record(0.5, model: "ref", route: "r1") == nil)
        for _ in 0..<4 { scores.record(0, model: "a", route: "r1") }
        #expect(!scores.isEligible("a", in: "r1"))
        #expect(scores.isEligible("a", in: "r2"), "another route without consistency keeps it")
        #expect(scores.isEligible("b", in: "r1"))
        #expect(scores.ineligible(in: "r1") == ["a"])
        let summary = try #require(scores.summary(of: "a", in: "r1"))
        #expect(summary.samples == 4 && !summary.eligible && summary.mean == 0)
    }
}
