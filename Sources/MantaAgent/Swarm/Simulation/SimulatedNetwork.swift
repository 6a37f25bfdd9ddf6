/// Links and transfers of a `SwarmSimulation`, as fluids: each transfer flows at its sender's upload rate
/// shared by the sender's transfers, or its receiver's download rate shared by the receiver's, whichever is
/// less, recomputed whenever a transfer of either starts or ends. Not max-min fair: a share a transfer cannot
/// use is not given to the others, which makes the network a little slower than a real one, never faster.
struct SimulatedNetwork {
    /// A sender or a receiver: a node by its index, or the hub.
    enum Endpoint: Hashable {
        case hub
        case node(Int)
    }

    struct Transfer {
        var from: Endpoint
        var to: Int
        var chunk: Int
        var remaining: Double
        var rate: Double = 0
        var updated: Double
        /// Bumped at every rate change: a completion scheduled for an older version is stale.
        var version = 0
    }

    private(set) var transfers: [Int: Transfer] = [:]
    private var sending: [Endpoint: Set<Int>] = [:]
    private var receiving: [Int: Set<Int>] = [:]
    private var nextID = 0
    let uploadRate: (Endpoint) -> Double
    let downloadRate: (Int) -> Double

    init(uploadRate: @escaping (Endpoint) -> Double, downloadRate: @escaping (Int) -> Double) {
        self.uploadRate = uploadRate
        self.downloadRate = downloadRate
    }

    /// A transfer whose request is on its way: it flows once `begin` is called.
    mutating func add(from: Endpoint, to: Int, chunk: Int, bytes: UInt64, at now: Double) -> Int {
        let id = nextID
        nextID += 1
        transfers[id] = Transfer(from: from, to: to, chunk: chunk, remaining: Double(bytes), updated: now)
        return id
    }

    /// The transfer's bytes start to flow; returns the transfers whose completion time changed (it included).
    mutating func begin(_ id: Int, at now: Double) -> [Int] {
        guard let transfer = transfers[id] else { return [] }
        sending[transfer.from, default: []].insert(id)
        receiving[transfer.to, default: []].insert(id)
        return rebalance(from: transfer.from, to: transfer.to, at: now)
    }

    /// Ends a transfer (done, or cut off); returns it and the transfers whose completion time changed.
    mutating func end(_ id: Int, at now: Double) -> (transfer: Transfer?, changed: [Int]) {
        guard let transfer = transfers.removeValue(forKey: id) else { return (nil, []) }
        sending[transfer.from]?.remove(id)
        receiving[transfer.to]?.remove(id)
        return (transfer, rebalance(from: transfer.from, to: transfer.to, at: now))
    }

    /// The transfers a node sends or receives: those a kill cuts off.
    func touching(_ node: Int) -> [Int] {
        Array(sending[.node(node), default: []].union(receiving[node, default: []]))
    }

    /// When the transfer ends at its current rate.
    func completion(of id: Int) -> (time: Double, version: Int)? {
        guard let transfer = transfers[id], transfer.rate > 0 else { return nil }
        return (transfer.updated + transfer.remaining / transfer.rate, transfer.version)
    }

    private mutating func rebalance(from: Endpoint, to: Int, at now: Double) -> [Int] {
        let affected = sending[from, default: []].union(receiving[to, default: []])
        for id in affected {
            guard var transfer = transfers[id] else { continue }
            transfer.remaining = max(0, transfer.remaining - transfer.rate * (now - transfer.updated))
            transfer.updated = now
            let upShare = uploadRate(transfer.from) / Double(max(1, sending[transfer.from, default: []].count))
            let downShare = downloadRate(transfer.to) / Double(max(1, receiving[transfer.to, default: []].count))
            transfer.rate = min(upShare, downShare)
            transfer.version += 1
            transfers[id] = transfer
        }
        return Array(affected)
    }
}
