/// A small cache that drops its least recently used entries when their total cost exceeds `capacity`.
/// Eviction scans all entries: meant for at most a few hundred.
struct LeastRecentlyUsed<Key: Hashable, Value> {
    private struct Entry {
        var value: Value
        var cost: Int
        var lastUse: UInt64
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    private var totalCost = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func value(for key: Key) -> Value? {
        clock += 1
        entries[key]?.lastUse = clock
        return entries[key]?.value
    }

    mutating func insert(_ value: Value, for key: Key, cost: Int = 1) {
        clock += 1
        if let previous = entries.updateValue(Entry(value: value, cost: cost, lastUse: clock), forKey: key) {
            totalCost -= previous.cost
        }
        totalCost += cost
        while totalCost > capacity, entries.count > 1,
            let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })
        {
            entries[oldest.key] = nil
            totalCost -= oldest.value.cost
        }
    }

    mutating func removeValue(for key: Key) {
        if let removed = entries.removeValue(forKey: key) { totalCost -= removed.cost }
    }
}
