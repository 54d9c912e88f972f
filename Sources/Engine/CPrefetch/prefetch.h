// Software prefetch for the batch loader: the samples of a shuffled batch sit at random places
// in a data set larger than the caches, so each one's bytes are asked for ahead of use.
#include <stddef.h>

static inline void mlpsh_prefetch(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 0);
}
