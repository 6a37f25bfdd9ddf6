import CTestParallelism

/// How many tests run side by side in this process (`CTestParallelism`): three per core unless
/// `SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH` says otherwise.
public enum TestParallelism {
    public static var width: Int { Int(manta_test_parallelization_width()) }
}
