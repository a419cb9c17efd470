import Synchronization

/// The gateway's open client connections, so that shutdown can cut what is still running once
/// `server.shutdown_timeout` has passed: each request ends as `shutting_down` (a stream with the error
/// event its SDK raises), its spans end, and only then are the connections closed and the telemetry
/// flushed. A connection registers when it opens and leaves when it closes: a lock per connection,
/// none per request.
public final class ClientConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    public init() {}

    func add(_ connection: ClientConnection) {
        open.withLock { $0[ObjectIdentifier(connection)] = connection }
    }

    func remove(_ connection: ClientConnection) {
        _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Cuts every running request, then waits (at most `timeout`) for them to have ended.
    public func cutAll(waitingAtMost timeout: Duration = .seconds(1)) async {
        let connections = open.withLock { Array($0.values) }
        for connection in connections { connection.cutForShutdown() }
        let deadline = ContinuousClock.now + timeout
        while connections.contains(where: \.isBusy), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        // A request's answer is written just after its work ends: a moment for the last ones to leave
        // before the connections close.
        if !connections.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
    }
}
