public import ArchwayConfig
import Synchronization

/// Every scored candidate's `ConsistencyWindow`, per route with `consistency`. Shadow samples record
/// into it; the routing policy reads eligibility from it. The reference model is never scored: its
/// answers are the measure.
public final class ConsistencyScores: Sendable {
    /// One window behind its own lock: scores arrive from shadow workers while requests read them.
    final class Track: Sendable {
        let window: Mutex<ConsistencyWindow>

        init(_ settings: RouteConfiguration.Consistency) {
            window = Mutex(ConsistencyWindow(settings: settings))
        }
    }

    /// The figures `GET /admin/routing` shows for one candidate.
    public struct Summary: Sendable, Hashable {
        public var mean: Double?
        public var samples: Int
        public var eligible: Bool
    }

    private let tracks: [String: [String: Track]]

    public init(routes: [RouteConfiguration]) {
        var tracks: [String: [String: Track]] = [:]
        for route in routes {
            guard let settings = route.consistency else { continue }
            var byModel: [String: Track] = [:]
            for candidate in route.candidates where candidate != settings.reference {
                byModel[candidate] = Track(settings)
            }
            tracks[route.name] = byModel
        }
        self.tracks = tracks
    }

    /// Whether the route scores this candidate (it has consistency and the model is not the reference).
    public func isScored(_ model: String, in route: String) -> Bool {
        tracks[route]?[model] != nil
    }

    /// Whether the candidate may be chosen in the route (true when it is not scored).
    public func isEligible(_ model: String, in route: String) -> Bool {
        guard let track = tracks[route]?[model] else { return true }
        return track.window.withLock { $0.eligible }
    }

    /// Records a score; returns the candidate's summary afterwards and whether eligibility changed.
    @discardableResult
    public func record(_ score: Double, model: String, route: String) -> (summary: Summary, changed: Bool)? {
        guard let track = tracks[route]?[model] else { return nil }
        return track.window.withLock { window in
            let changed = window.record(score)
            return (Summary(mean: window.mean, samples: window.samples, eligible: window.eligible), changed)
        }
    }

    public func summary(of model: String, in route: String) -> Summary? {
        tracks[route]?[model]?.window.withLock { Summary(mean: $0.mean, samples: $0.samples, eligible: $0.eligible) }
    }

    /// The route's scored candidates that are left out now.
    public func ineligible(in route: String) -> [String] {
        guard let byModel = tracks[route] else { return [] }
        return byModel.compactMap { model, track in track.window.withLock { $0.eligible } ? nil : model }.sorted()
    }
}
