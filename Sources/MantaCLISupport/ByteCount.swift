import ArgumentParser
import MantaStore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A number of bytes on the command line: `1048576`, `512MiB`, `10GB`, `1.5GiB`.
public struct ByteCount: ExpressibleByArgument, Sendable {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    public init?(argument: String) {
        let units: [(String, Double)] = [
            ("KiB", 0x1p10), ("MiB", 0x1p20), ("GiB", 0x1p30), ("TiB", 0x1p40),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 0x1p10), ("M", 0x1p20), ("G", 0x1p30), ("B", 1),
        ]
        let text = argument.trimmingWhitespace
        let (number, scale) = units.first { text.hasSuffix($0.0) }.map { (String(text.dropLast($0.0.count)), $0.1) } ?? (text, 1)
        guard let value = Double(number.trimmingWhitespace), value >= 0, value * scale < 1.8e19 else { return nil }
        bytes = UInt64(value * scale)
    }

    public static func format(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\(value.fixedPoint(1)) \(units[unit])"
    }
}
