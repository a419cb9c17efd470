#include "CArchwayAllocator.h"

#if defined(__linux__)
#include <jemalloc/jemalloc.h>

// Read by jemalloc when it initialises, before the first allocation (`MALLOC_CONF` in the environment
// still overrides it). Pages freed after a peak go back to the system within seconds, from jemalloc's
// own background thread rather than the freeing thread (dirty pages after 5 s, and no "muzzy" stage,
// whose lazily freed pages would still count as resident). Two arenas, as for the two event loops on
// this gateway's usual machines: each arena keeps its own partly used pages, so fewer of them leave
// less behind after a peak.
const char *malloc_conf = "background_thread:true,narenas:2,dirty_decay_ms:5000,muzzy_decay_ms:0";

const char *archway_allocator_jemalloc_version(void) {
    const char *version = NULL;
    size_t size = sizeof(version);
    if (mallctl("version", &version, &size, NULL, 0) != 0) {
        return NULL;
    }
    return version;
}

int archway_allocator_background_purging(void) {
    _Bool enabled = 0;
    size_t size = sizeof(enabled);
    if (mallctl("background_thread", &enabled, &size, NULL, 0) != 0) {
        return 0;
    }
    return enabled ? 1 : 0;
}

void archway_allocator_flush_thread_cache(void) {
    (void)mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}
#else
const char *archway_allocator_jemalloc_version(void) { return NULL; }
int archway_allocator_background_purging(void) { return 0; }
void archway_allocator_flush_thread_cache(void) {}
#endif
