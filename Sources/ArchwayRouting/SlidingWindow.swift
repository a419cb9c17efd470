import Foundation
import Histogram

/// Latencies over the last `slots × slotLength`, kept as one HDR histogram per slot: recording is a
/// constant-time bucket increment, and the oldest slot is dropped as time moves on.
struct SlidingHistogram: Sendable {
    private var slots: [Histogram<UInt32>]
    private var slotStarts: [ContinuousClock.Instant?]
    private let slotLength: Duration

    init(slots: Int = 6, slotLength: Duration = .seconds(10)) {
        // Microseconds up to ten minutes, two significant digits (1 % resolution is plenty for routing).
        let empty = Histogram<UInt32>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .two)
        self.slots = Array(repeating: empty, count: slots)
        self.slotStarts = Array(repeating: nil, count: slots)
        self.slotLength = slotLength
    }

    private func index(of instant: ContinuousClock.Instant, from origin: ContinuousClock.Instant) -> (slot: Int, start: ContinuousClock.Instant) {
        let elapsed = origin.duration(to: instant)
        let number = Int(elapsed / slotLength)
        return (number % slots.count, origin + slotLength * number)
    }

    mutating func record(_ duration: Duration, at now: ContinuousClock.Instant, origin: ContinuousClock.Instant) {
        let (slot, start) = index(of: now, from: origin)
        if slotStarts[slot] != start {
            slots[slot].reset()
            slotStarts[slot] = start
        }
        let micros = max(0, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
        _ = slots[slot].record(UInt64(min(micros, 600_000_000)))
    }

    /// The histogram of the window ending at `now`.
    func merged(at now: ContinuousClock.Instant) -> Histogram<UInt32>? {
        var merged: Histogram<UInt32>?
        for (slot, start) in zip(slots, slotStarts) {
            guard let start, start.duration(to: now) < slotLength * slots.count, slot.totalCount > 0 else { continue }
            if merged == nil { merged = slot } else { merged?.add(slot) }
        }
        return merged
    }
}

/// Counts over the same kind of sliding window.
struct SlidingCounter: Sendable {
    private var counts: [Int]
    private var slotStarts: [ContinuousClock.Instant?]
    private let slotLength: Duration

    init(slots: Int = 6, slotLength: Duration = .seconds(10)) {
        self.counts = Array(repeating: 0, count: slots)
        self.slotStarts = Array(repeating: nil, count: slots)
        self.slotLength = slotLength
    }

    mutating func add(_ value: Int = 1, at now: ContinuousClock.Instant, origin: ContinuousClock.Instant) {
        let number = Int(origin.duration(to: now) / slotLength)
        let slot = number % counts.count
        let start = origin + slotLength * number
        if slotStarts[slot] != start {
            counts[slot] = 0
            slotStarts[slot] = start
        }
        counts[slot] += value
    }

    func total(at now: ContinuousClock.Instant) -> Int {
        zip(counts, slotStarts).reduce(0) { sum, pair in
            guard let start = pair.1, start.duration(to: now) < slotLength * counts.count else { return sum }
            return sum + pair.0
        }
    }
}

/// An exponentially weighted moving average whose weight decays with time, not with samples
/// (`tau`: how long a sample takes to fade to 1/e).
struct DecayingAverage: Sendable {
    private(set) var value: Double?
    private var last: ContinuousClock.Instant?
    let tau: Duration

    init(tau: Duration = .seconds(10)) {
        self.tau = tau
    }

    mutating func add(_ sample: Double, at now: ContinuousClock.Instant) {
        guard let value, let last else {
            self.value = sample
            self.last = now
            return
        }
        let elapsed = max(0, last.duration(to: now) / tau)
        let weight = 1 - exp(-elapsed)
        self.value = value + (sample - value) * max(weight, 0.05)
        self.last = now
    }

    /// The average at `now`, faded towards `floor` (the window's median, when it has one) by the time since
    /// its last sample, as a peak-EWMA fades in Finagle: a peak that nothing has confirmed since weighs
    /// less and less. Without a floor (no recent samples) it stays as it was: the last evidence there is.
    func value(at now: ContinuousClock.Instant, fadingTowards floor: Double?) -> Double? {
        guard let value, let last, let floor, value > floor else { return value }
        return floor + (value - floor) * exp(-max(0, last.duration(to: now) / tau))
    }

    /// Peak-EWMA (Finagle, linkerd): a sample above the average replaces it at once, so a slowdown is
    /// seen on its first slow answer; below it, the average decays towards it.
    mutating func addPeak(_ sample: Double, at now: ContinuousClock.Instant) {
        if let value, sample > value {
            self.value = sample
            self.last = now
        } else {
            add(sample, at: now)
        }
    }
}
