public import ArchwayConfig
import Synchronization

/// How loaded one route is: its calls in flight, and whether its `under_load` bar applies. The bar
/// relaxes when more than `in_flight_above` calls are in flight and comes back once they fall to 80 %
/// of that (hysteresis, so the bar does not flap at the threshold).
public final class RouteLoad: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let loaded = Atomic<Bool>(false)
    let route: RouteConfiguration

    init(route: RouteConfiguration) {
        self.route = route
    }

    /// A call of the route starts (the execution layer calls this once per request).
    public func enter() {
        inFlight.add(1, ordering: .relaxed)
    }

    /// It ended (for a stream, when the stream ended). The last calls of a burst bring the normal bar
    /// back as they end, not at the next request, so the gauge and `/admin/routing` do not show a
    /// relaxed bar long after the load is gone.
    public func leave() {
        let calls = inFlight.subtract(1, ordering: .relaxed).newValue
        if let rule = route.underLoad, Double(calls) <= Double(rule.inFlightAbove) * 0.8 {
            loaded.store(false, ordering: .relaxed)
        }
    }

    public var callsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// The bar for a new request, updating the loaded state from the calls in flight.
    func barForNextRequest() -> Double? {
        guard let rule = route.underLoad else { return route.minQuality }
        let calls = inFlight.load(ordering: .relaxed)
        if calls > rule.inFlightAbove {
            loaded.store(true, ordering: .relaxed)
        } else if Double(calls) <= Double(rule.inFlightAbove) * 0.8 {
            loaded.store(false, ordering: .relaxed)
        }
        return currentBar
    }

    /// The bar that applies now.
    public var currentBar: Double? {
        guard let rule = route.underLoad, loaded.load(ordering: .relaxed) else { return route.minQuality }
        return rule.minQuality
    }
}
