import ServiceLifecycle

/// Runs `body` every `interval` until the service group shuts down gracefully or the task is cancelled:
/// the loop of a background `Service` that polls or publishes. The pause ends at once on either, so
/// shutdown never waits out an interval.
///
/// - Parameters:
///   - interval: The pause after each run of `body`.
///   - pauseFirst: Pause before the first run too, for services that did their first run before.
///   - body: The work of one round.
public func repeatUntilGracefulShutdown(
    every interval: Duration,
    pauseFirst: Bool = false,
    _ body: () async -> Void
) async {
    if pauseFirst, !(await pause(interval)) { return }
    while !Task.isShuttingDownGracefully, !Task.isCancelled {
        await body()
        guard await pause(interval) else { return }
    }
}

/// Sleeps for `interval`; false when shutdown or cancellation cut the sleep short.
private func pause(_ interval: Duration) async -> Bool {
    do {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        return true
    } catch {
        return false
    }
}
