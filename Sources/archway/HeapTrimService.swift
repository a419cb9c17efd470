import ServiceLifecycle

#if os(Linux)
// glibc's `malloc_trim`, whose header Swift's Glibc module leaves out.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
#endif

/// Hands memory that the allocator keeps after a load peak back to the system, every `interval`.
///
/// glibc's malloc keeps freed pages in its per-thread arenas: after a burst of a thousand concurrent
/// streams the process stayed at three times its idle size although nothing was leaked. `malloc_trim`
/// releases those pages; it takes the arenas' locks for about a millisecond, so it runs rarely and off
/// the event loops.
struct HeapTrimService: Service {
    var interval: Duration = .seconds(10)

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            #if os(Linux)
            _ = mallocTrim(0)
            #endif
        }
    }
}
