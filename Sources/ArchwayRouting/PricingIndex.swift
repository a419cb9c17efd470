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
    private let clock: @Sendable () -> Int

    /// - Parameter unixSeconds: the wall clock schedules are read against (injected in tests).
    public init(models: [ModelConfiguration], unixSeconds: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }) {
        var schedules: [String: PriceSchedule] = [:]
        for model in models {
            if let schedule = model.schedule { schedules[model.name] = schedule }
        }
        self.schedules = Mutex(schedules)
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

    /// Every model's schedule.
    public var all: [String: PriceSchedule] { schedules.withLock { $0 } }
}
