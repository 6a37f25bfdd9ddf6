/// The release both executables report with `--version`. `manta` hands its own to `manta-net` when it runs it,
/// so a `manta-net` left over from another release says so instead of behaving differently without a word.
public enum MantaVersion {
    public static let current = "0.1.0"

    /// Set by `manta` for the `manta-net` it runs: the version of the `manta` that ran it.
    public static let callerEnvironmentKey = "MANTA_CALLER_VERSION"

    /// The warning `manta-net` prints when it was run by a `manta` of another version, else nil.
    public static func mismatch(caller: String?) -> String? {
        guard let caller, caller != current else { return nil }
        return "warning: manta \(caller) ran \(NetworkCommand.executableName) \(current); "
            + "install both executables from the same build (`swift build` builds both)"
    }
}
