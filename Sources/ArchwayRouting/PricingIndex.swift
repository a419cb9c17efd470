public import ArchwayConfig
public import ArchwayCore
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The prices in force, per configured model: the configured schedules, replaced model by model by
/// `PUT /admin/pricing` or the `pricing.file`, evaluated at the moment a call is made (UTC time of day).
public final class PricingIndex: Sendable {
    private let schedules: Mutex<[String: PriceSchedule]>
    /// The configuration's prices: what a model the pricing file stops naming goes back to.
    private let configured: [String: PriceSchedule]
    /// The models the pricing file named when it was last applied.
    private let fromFile = Mutex<Set<String>>([])
    private let clock: @Sendable () -> Int

    /// - Parameter unixSeconds: the wall clock schedules are read against (injected in tests).
    public init(models: [ModelConfiguration], unixSeconds: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }) {
        var schedules: [String: PriceSchedule] = [:]
        for model in models {
            if let schedule = model.schedule { schedules[model.name] = schedule }
        }
        self.schedules = Mutex(schedules)
        self.configured = schedules
        self.clock = unixSeconds
    }

    /// Seconds since the Unix epoch, as this index reads the clock.
    public var nowUnixSeconds: Int { clock() }

    /// The price of `model` in force now (nil when it has none).
    public func price(for model: String) -> ModelPrice? {
        price(for: model, atUnixSeconds: clock())
    }

    public func price(for model: String, atUnixSeconds seconds: Int) -> ModelPrice? {
        schedules.withLock { $0[model] }?.price(atUnixSeconds: seconds)
    }

    public func schedule(for model: String) -> PriceSchedule? {
        schedules.withLock { $0[model] }
    }

    /// Replaces the prices of the given models at once; others keep theirs.
    public func replace(_ prices: [String: PriceSchedule]) {
        schedules.withLock { schedules in
            for (model, schedule) in prices { schedules[model] = schedule }
        }
    }

    /// Applies the pricing file's prices: the models it names get them, and a model it named before but
    /// no longer does goes back to its configured price.
    public func replaceFromFile(_ prices: [String: PriceSchedule]) {
        fromFile.withLock { named in
            schedules.withLock { schedules in
                for model in named where prices[model] == nil { schedules[model] = configured[model] }
                for (model, schedule) in prices { schedules[model] = schedule }
            }
            named = Set(prices.keys)
        }
    }

    /// Every model's schedule.
    public var all: [String: PriceSchedule] { schedules.withLock { $0 } }
}
