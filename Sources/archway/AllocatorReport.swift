import CArchwayAllocator

/// Which allocator serves the process's memory, for the start-up log.
///
/// On Linux Archway is linked with jemalloc (`CArchwayAllocator`): glibc's malloc kept the partly used
/// pages of a load peak resident in its arenas (after a soak, 6.7 MB of arena pages held 2.3 MB of live
/// blocks, and `malloc_trim` could not return them), while jemalloc purges unused pages on a background
/// thread.
enum AllocatorReport {
    /// "jemalloc <version>, background purging on|off", or nil where Archway is not linked with jemalloc.
    static var current: String? {
        guard let version = archway_allocator_jemalloc_version() else { return nil }
        let purging = archway_allocator_background_purging() != 0 ? "on" : "off"
        return "jemalloc \(String(cString: version)), background purging \(purging)"
    }
}
