/// When a model is ejected: `consecutiveFailures` in a row, or `failureRate` of at least `minCalls` calls in
/// the statistics' window; for `base`, doubling with each ejection in a row.
struct EjectionRule: Sendable {
    var consecutiveFailures: Int
    var failureRate: Double
    var minCalls: Int
    var base: Duration

    enum Cause: Sendable {
        /// An outage: the first good answer (a probe's) brings the model back.
        case failuresInARow
        /// A model failing a share of its calls: it serves its time.
        case failureRate
    }
}
