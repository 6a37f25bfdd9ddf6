#define _GNU_SOURCE
#include "CTestParallelism.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const variable = "SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH";

// Many tests start real agents, hubs and mounts: with every test at once on two cores (load over 30), stall
// timeouts measured on the wall clock expire before a loopback answer is read. A constructor, because Swift
// Testing reads the variable once, before any test code runs; so a plain `swift test` runs with this bound too.
__attribute__((constructor)) static void manta_default_parallelization_width(void) {
    if (getenv(variable) != NULL) return;
    cpu_set_t cores;
    long count = sched_getaffinity(0, sizeof cores, &cores) == 0 ? CPU_COUNT(&cores) : 1;
    char width[32];
    snprintf(width, sizeof width, "%ld", (count > 0 ? count : 1) * 3);
    setenv(variable, width, 0);
}

long manta_test_parallelization_width(void) {
    const char *width = getenv(variable);
    return width == NULL ? 0 : strtol(width, NULL, 10);
}
