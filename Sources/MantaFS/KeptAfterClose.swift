/// Something the mount keeps a while after the last file using it closed (`OpenPins`, `PassthroughBackings`).
protocol KeptAfterClose {
    var inUse: Bool { get }
    /// When the last file using it closed; nil while one is open.
    var closedAt: ContinuousClock.Instant? { get }
}

extension Dictionary where Value: KeptAfterClose {
    /// Removes the entries no file has used for `delay` by `now`, and returns them.
    mutating func removeUnused(for delay: Duration, at now: ContinuousClock.Instant) -> [(key: Key, value: Value)] {
        let due = filter { !$0.value.inUse && $0.value.closedAt.map { now - $0 >= delay } == true }
        for key in due.keys { self[key] = nil }
        return due.map { ($0.key, $0.value) }
    }
}
