import ArchwayGateway
import CArchwayAllocator
import NIOCore
import ServiceLifecycle

/// Every `interval`, empties jemalloc's per-thread caches on the event loops and on its own thread.
///
/// Each thread keeps blocks it freed in a cache of its own for its next allocations, and jemalloc trims
/// that cache only as the thread allocates: a loop that goes quiet after a peak keeps its cache, and the
/// pages under it stay resident (after a soak, 1.4 MB of cached blocks beside 2.4 MB in use). Emptying it
/// costs a busy loop a few refills from its arena every 10 s.
struct ThreadCacheFlushService: Service {
    let eventLoops: any EventLoopGroup
    var interval: Duration = .seconds(10)

    func run() async throws {
        await repeatUntilGracefulShutdown(every: interval, pauseFirst: true) {
            for loop in eventLoops.makeIterator() {
                loop.execute { archway_allocator_flush_thread_cache() }
            }
            archway_allocator_flush_thread_cache()
        }
    }
}
