import ArgumentParser
import MantaCLISupport
import MantaStore

/// The store's quota as a running agent keeps it (`manta agent`, `manta up`). Saved in the store's settings, so
/// `manta gc` and `manta du` see the same quota.
struct QuotaOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Bytes the store's chunks may take, e.g. 500GiB; above the high watermark the least recently used models nothing holds are evicted (saved in the store; 0 removes it).",
            valueName: "size"))
    var quota: ByteCount?

    @Option(name: .customLong("high-watermark"), help: ArgumentHelp("Eviction starts above this share of the quota.", valueName: "percent"))
    var highWatermark: Percentage?

    @Option(name: .customLong("low-watermark"), help: ArgumentHelp("Eviction stops at this share of the quota.", valueName: "percent"))
    var lowWatermark: Percentage?

    @Option(
        name: .customLong("quota-interval"),
        help: ArgumentHelp("How often the store's use is checked against the quota between pulls.", valueName: "duration"))
    var interval = DurationArgument(duration: .seconds(10))

    func validate() throws {
        guard interval.duration >= .milliseconds(100), interval.duration <= .seconds(3600) else {
            throw ValidationError("--quota-interval must be between 100ms and 1h")
        }
    }

    var storeChanges: StoreConfigurationChanges {
        StoreConfigurationChanges(quotaBytes: quota?.bytes, highWatermark: highWatermark?.fraction, lowWatermark: lowWatermark?.fraction)
    }
}

/// A share on the command line: `90%`, or a fraction `0.9`; more than 0 and at most 100%.
struct Percentage: ExpressibleByArgument, Sendable {
    var fraction: Double

    init?(argument: String) {
        let percent = argument.hasSuffix("%")
        guard let value = Double(percent ? String(argument.dropLast()) : argument) else { return nil }
        let fraction = percent ? value / 100 : value
        guard fraction > 0, fraction <= 1 else { return nil }
        self.fraction = fraction
    }
}
