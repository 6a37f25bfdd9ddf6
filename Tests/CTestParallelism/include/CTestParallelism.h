#ifndef C_TEST_PARALLELISM_H
#define C_TEST_PARALLELISM_H

/// How many tests Swift Testing runs side by side in this process: SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH,
/// which, unless the environment sets it, the test binary sets to three per core it may run on before Swift
/// Testing reads it.
long manta_test_parallelization_width(void);

#endif
