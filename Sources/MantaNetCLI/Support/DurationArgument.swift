import ArgumentParser

/// A length of time on the command line, as Kubernetes tools write it: `30m`, `90s`, `1h30m`, `500ms`;
/// a bare number is seconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    init(duration: Duration) {
        self.duration = duration
    }

    var defaultValueDescription: String {
        let seconds = duration.components.seconds
        return seconds % 60 == 0 && seconds > 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }

    init?(argument: String) {
        if let seconds = Int64(argument), seconds >= 0 {
            duration = .seconds(seconds)
            return
        }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var rest = Substring(argument)
        var milliseconds: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" before "m": the longest unit that fits.
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.1)
            let (sum, sumOverflow) = milliseconds.addingReportingOverflow(product)
            guard !overflow, !sumOverflow else { return nil }
            milliseconds = sum
        }
        guard !argument.isEmpty else { return nil }
        duration = .milliseconds(milliseconds)
    }
}
