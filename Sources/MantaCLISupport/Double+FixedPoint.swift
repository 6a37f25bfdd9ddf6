extension Double {
    /// The value rounded to `places` decimals, as `%.<places>f` prints it (without Foundation's `String(format:)`).
    public func fixedPoint(_ places: Int) -> String {
        let scale = (0..<places).reduce(1) { product, _ in product * 10 }
        let scaled = (magnitude * Double(scale)).rounded()
        guard scaled < 0x1p63 else { return "\(self)" }
        let units = Int(scaled)
        let sign = self < 0 && units != 0 ? "-" : ""
        guard places > 0 else { return "\(sign)\(units)" }
        let fraction = String(units % scale)
        return "\(sign)\(units / scale).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }
}
