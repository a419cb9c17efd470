/// The connections and waiting calls of one upstream origin, summed over the event loops' pools.
public struct UpstreamConnectionCounts: Sendable, Equatable {
    /// Connections carrying an exchange (or being opened for one).
    public var active = 0
    /// Kept-alive connections waiting to be reused.
    public var idle = 0
    /// Calls waiting for a connection: the origin is at `upstream.max_connections_per_host`.
    public var waiting = 0

    public init(active: Int = 0, idle: Int = 0, waiting: Int = 0) {
        self.active = active
        self.idle = idle
        self.waiting = waiting
    }
}
