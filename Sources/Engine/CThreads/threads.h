// What the worker pool asks of Linux that Swift cannot say directly: the CPUs in this
// process's affinity mask (CPU_COUNT is a macro), and a spin-wait hint.
#define _GNU_SOURCE
#include <sched.h>

// The CPUs this process may run on (taskset, cpusets), or 0 when the mask cannot be read.
static inline int mlpsh_affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

// A spin-wait hint: lets the core's other work (or its sibling thread) run while a thread polls.
static inline void mlpsh_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void mlpsh_yield(void) { sched_yield(); }
