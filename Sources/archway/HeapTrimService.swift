import ServiceLifecycle

#if os(Linux)
// glibc's `malloc_trim` and `mallopt`, whose header Swift's Glibc module leaves out.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Hands memory that the allocator keeps after a load peak back to the system, every `interval`.
///
/// glibc's malloc keeps freed pages in its per-thread arenas: after a burst of a thousand concurrent
/// streams the process stayed at three times its idle size although nothing was leaked. `malloc_trim`
/// releases those pages; it takes the arenas' locks for about a millisecond, so it runs rarely and off
/// the event loops.
struct HeapTrimService: Service {
    var interval: Duration = .seconds(10)

    /// Caps glibc's malloc arenas (by default eight per core, one per thread that allocates). Each arena
    /// keeps its own freed pages; with fewer of them, memory freed after a peak is in fewer, fuller
    /// arenas and more of it can be returned (after a soak: 52 MB instead of 61 MB, idle being 39 MB).
    /// Call before the event loop threads start allocating.
    static func limitArenas(to count: Int32 = 2) {
        #if os(Linux)
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        _ = mallopt(arenaMax, count)
        // A fixed threshold: blocks of 128 KiB and more (export bodies, large stream buffers) are always
        // mapped on their own and unmapped when freed. glibc otherwise raises the threshold after the first
        // such free, and later large blocks stay in the arenas.
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        _ = mallopt(mmapThreshold, 128 * 1024)
        #endif
    }

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
