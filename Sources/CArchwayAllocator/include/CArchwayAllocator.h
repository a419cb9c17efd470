#ifndef C_ARCHWAY_ALLOCATOR_H
#define C_ARCHWAY_ALLOCATOR_H

#include <stddef.h>

/// The version of the jemalloc linked into Archway, or NULL where it is not (anything but Linux).
const char *archway_allocator_jemalloc_version(void);

/// Whether jemalloc's background purging thread is on (false where jemalloc is not in use).
int archway_allocator_background_purging(void);

/// Returns the blocks the calling thread's jemalloc cache holds to their arenas, so pages they kept in use
/// can be purged. Does nothing where jemalloc is not in use.
void archway_allocator_flush_thread_cache(void);

#endif
