extension Duration {
    /// Seconds as a floating-point number, for rates and messages.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole nanoseconds, for APIs that count in them (NIO's TimeAmount, swift-metrics timers); a duration past
    /// what an Int64 holds (about 292 years) saturates instead of trapping, since durations can come from flags.
    public var wholeNanoseconds: Int64 {
        whole(perSecond: 1_000_000_000)
    }

    public var wholeMilliseconds: Int64 {
        whole(perSecond: 1_000)
    }

    private func whole(perSecond: Int64) -> Int64 {
        let (scaled, overflow) = components.seconds.multipliedReportingOverflow(by: perSecond)
        guard !overflow else { return components.seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(components.attoseconds / (1_000_000_000_000_000_000 / perSecond))
        return sumOverflow ? (scaled < 0 ? .min : .max) : sum
    }
}
