/// A daily stretch of UTC time, `start` inclusive to `end` exclusive, in minutes since midnight. A window
/// whose end is not after its start runs across midnight (`16:30-00:30`).
public struct DailyWindow: Sendable, Hashable, CustomStringConvertible {
    public static let minutesPerDay = 24 * 60

    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM-HH:MM` (24:00 allowed as an end). A window that ends where it starts is refused, as
    /// ambiguous, except `00:00-24:00`, the whole day.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let start = Self.minute(parts[0].filter { $0 != " " }), start < Self.minutesPerDay,
              let end = Self.minute(parts[1].filter { $0 != " " }),
              start != end % Self.minutesPerDay || (start == 0 && end == Self.minutesPerDay)
        else { return nil }
        self.init(start: start, end: end % Self.minutesPerDay)
    }

    private static func minute(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0...24).contains(hours), (0..<60).contains(minutes), hours < 24 || minutes == 0
        else { return nil }
        return hours * 60 + minutes
    }

    /// Whether the window covers `minute` (minutes since UTC midnight).
    public func contains(minute: Int) -> Bool {
        if start == end { return true }  // the whole day
        return start < end ? (start <= minute && minute < end) : (minute >= start || minute < end)
    }

    /// The minutes of the day the window covers, as at most two ranges that do not wrap.
    var ranges: [Range<Int>] {
        if start == end { return [0..<Self.minutesPerDay] }
        return start < end ? [start..<end] : [start..<Self.minutesPerDay, 0..<end].filter { !$0.isEmpty }
    }

    public func overlaps(_ other: DailyWindow) -> Bool {
        ranges.contains { mine in other.ranges.contains { $0.overlaps(mine) } }
    }

    public var description: String {
        func format(_ minute: Int) -> String {
            let hours = minute / 60, minutes = minute % 60
            return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
        }
        return "\(format(start))-\(format(end))"
    }
}

/// A model's prices: a base price and time-of-day prices that replace it inside their windows (the
/// first window that covers the moment wins).
public struct PriceSchedule: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var window: DailyWindow
        public var price: ModelPrice

        public init(window: DailyWindow, price: ModelPrice) {
            self.window = window
            self.price = price
        }
    }

    public var base: ModelPrice
    public var entries: [Entry]

    public init(base: ModelPrice, entries: [Entry] = []) {
        self.base = base
        self.entries = entries
    }

    /// The price in force at `minute` (minutes since UTC midnight).
    public func price(atMinute minute: Int) -> ModelPrice {
        entries.first { $0.window.contains(minute: minute) }?.price ?? base
    }

    /// The price in force at a moment given as seconds since the Unix epoch.
    public func price(atUnixSeconds seconds: Int) -> ModelPrice {
        price(atMinute: ((seconds % 86_400 + 86_400) % 86_400) / 60)
    }
}
