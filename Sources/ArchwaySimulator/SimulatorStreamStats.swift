/// How the simulator's streamed answers (chat completions and messages alike) ended, since it started:
/// `GET /_simulator/stats` reports them as `{"streams":{"started":N,"completed":N,"cancelled":N,"broken":N}}`.
///
/// Every started stream ends as exactly one of the other three, so `started` minus their sum is the
/// number of streams still being written.
public struct SimulatorStreamStats: Sendable, Hashable, Codable {
    /// Streams whose body started being written.
    public var started: Int
    /// Streams whose end marker (`[DONE]`, `message_stop`) was written.
    public var completed: Int
    /// Streams that ended before their end marker because the client went away: a write to it failed,
    /// or the task writing the body was cancelled (for example while waiting for the next token).
    public var cancelled: Int
    /// Streams cut on purpose by `x-simulator-break-after`.
    public var broken: Int

    public init(started: Int = 0, completed: Int = 0, cancelled: Int = 0, broken: Int = 0) {
        self.started = started
        self.completed = completed
        self.cancelled = cancelled
        self.broken = broken
    }

    /// The number of streams started but not ended yet.
    public var inFlight: Int { started - completed - cancelled - broken }

    enum Outcome: Sendable {
        case completed
        case cancelled
        case broken
    }
}
