import Synchronization

/// The mutable state one simulator shares across its requests: the request log, the counters
/// behind failure injection and the rate-limit headers, and how its streams ended.
final class SimulatorState: Sendable {
    /// The simulated account's limits, reported in the `x-ratelimit-*` headers.
    struct RateLimits: Sendable {
        static let requestLimit = 10_000
        static let tokenLimit = 2_000_000

        var remainingRequests: Int
        var remainingTokens: Int
    }

    static let logCapacity = 100

    private struct Storage {
        /// Ring buffer: once full, `logStart` is the oldest entry.
        var log: [RecordedRequest] = []
        var logStart = 0
        var requestCount: UInt64 = 0
        var servedRequests = 0
        var servedTokens = 0
        var streams = SimulatorStreamStats()
    }

    private let storage = Mutex(Storage())
    private let profiles = Mutex<[String: SimulatedModelProfile]>([:])

    init() {}

    func profile(for model: String) -> SimulatedModelProfile? {
        profiles.withLock { $0[model] }
    }

    func setProfile(_ profile: SimulatedModelProfile?, for model: String) {
        profiles.withLock { $0[model] = profile }
    }

    func record(_ entry: RecordedRequest) {
        storage.withLock { storage in
            if storage.log.count < Self.logCapacity {
                storage.log.append(entry)
            } else {
                storage.log[storage.logStart] = entry
                storage.logStart = (storage.logStart + 1) % Self.logCapacity
            }
        }
    }

    /// The logged requests, oldest first.
    func recordedRequests() -> [RecordedRequest] {
        storage.withLock { storage in
            Array(storage.log[storage.logStart...] + storage.log[..<storage.logStart])
        }
    }

    func clearLog() {
        storage.withLock { storage in
            storage.log.removeAll()
            storage.logStart = 0
        }
    }

    /// A process-wide sequence number for each simulated call; it drives failure injection and ids.
    func nextRequestNumber() -> UInt64 {
        storage.withLock { storage in
            storage.requestCount &+= 1
            return storage.requestCount
        }
    }

    /// Counts one served call and returns what remains of the window; the window starts over once used up.
    func consume(tokens: Int) -> RateLimits {
        storage.withLock { storage in
            storage.servedRequests = (storage.servedRequests + 1) % RateLimits.requestLimit
            storage.servedTokens = (storage.servedTokens + max(tokens, 0) % RateLimits.tokenLimit) % RateLimits.tokenLimit
            return RateLimits(
                remainingRequests: RateLimits.requestLimit - storage.servedRequests,
                remainingTokens: RateLimits.tokenLimit - storage.servedTokens
            )
        }
    }

    /// Counts a stream whose body started being written.
    func streamStarted() {
        storage.withLock { $0.streams.started += 1 }
    }

    /// Counts how a started stream ended.
    func streamEnded(_ outcome: SimulatorStreamStats.Outcome) {
        storage.withLock { storage in
            switch outcome {
            case .completed: storage.streams.completed += 1
            case .cancelled: storage.streams.cancelled += 1
            case .broken: storage.streams.broken += 1
            }
        }
    }

    func streamStats() -> SimulatorStreamStats {
        storage.withLock { $0.streams }
    }
}
