public import ArchwayConfig

/// One candidate's consistency in one route: its last `window` scores and whether it may be chosen.
/// A value type: `record` returns whether eligibility changed, so the caller can report it.
///
/// Left out once it has at least `minSamples` scores and their mean is below `minScore`; back once
/// the mean reaches `minScore` + `hysteresis`, so a model at the bar does not flap.
public struct ConsistencyWindow: Sendable, Hashable {
    public let settings: RouteConfiguration.Consistency
    private var scores: [Double]
    private var next = 0
    private var sum = 0.0
    public private(set) var eligible = true

    public init(settings: RouteConfiguration.Consistency) {
        self.settings = settings
        self.scores = []
        scores.reserveCapacity(settings.window)
    }

    /// Scores recorded so far, at most `window`.
    public var samples: Int { scores.count }

    /// The mean of the window, nil before the first score.
    public var mean: Double? {
        scores.isEmpty ? nil : sum / Double(scores.count)
    }

    /// Adds a score (clamped to 0...1); returns true when eligibility changed.
    @discardableResult
    public mutating func record(_ score: Double) -> Bool {
        let score = score.isFinite ? min(1, max(0, score)) : 0
        if scores.count < settings.window {
            scores.append(score)
            sum += score
        } else {
            sum += score - scores[next]
            scores[next] = score
            next = (next + 1) % settings.window
            // Re-summed once per turn of the ring, so rounding never drifts over a long run.
            if next == 0 { sum = scores.reduce(0, +) }
        }
        let before = eligible
        guard let mean, scores.count >= settings.minSamples else { return false }
        if eligible, mean < settings.minScore {
            eligible = false
        } else if !eligible, mean >= min(1, settings.minScore + RouteConfiguration.Consistency.hysteresis) {
            eligible = true
        }
        return before != eligible
    }
}
