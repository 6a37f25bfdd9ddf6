extension StoreConfiguration {
    /// Whether `bytes` on disk pass the high watermark of `quotaBytes` (the configured quota when nil), where the agent
    /// and `manta gc` start evicting; never without a quota.
    public func passesHighWatermark(_ bytes: UInt64, quotaBytes: UInt64? = nil) -> Bool {
        passes(highWatermark, bytes, quotaBytes: quotaBytes)
    }

    /// Whether `bytes` on disk are still above the low watermark of `quotaBytes`, where eviction stops.
    public func passesLowWatermark(_ bytes: UInt64, quotaBytes: UInt64? = nil) -> Bool {
        passes(lowWatermark, bytes, quotaBytes: quotaBytes)
    }

    private func passes(_ watermark: Double, _ bytes: UInt64, quotaBytes: UInt64?) -> Bool {
        guard let quota = quotaBytes ?? self.quotaBytes else { return false }
        return Double(bytes) > Double(quota) * watermark
    }
}
