// Allocator tuning for processes that decode one large image after another.
#include "CHalfsizeShims.h"
#include <malloc.h>

void hs_malloc_keep_freed_blocks(void) {
    // glibc returns blocks over 128 KB to the kernel on free, so every image's buffers are
    // faulted in and zeroed again. Keep up to 64 MB of freed memory per arena (about one per
    // worker thread) for the next image; blocks over 32 MB (glibc's ceiling for this setting)
    // are still mapped each time.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}
