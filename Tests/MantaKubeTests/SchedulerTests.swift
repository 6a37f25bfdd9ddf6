import MantaKube
import MantaTestSupport
import Testing

@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct SchedulerTests {
    static let gib: Int64 = 1 << 30
    static let repo = Torrent.RepoStatus(
        repoID: "org/model", revision: "main", filename: nil, commit: "abc", files: [.init(path: "model.safetensors", size: 10 * gib, sha256: nil)])
    static let request = SchedulingRequest(torrent: .sample("t", repoID: "org/model"), repo: repo)

    static func node(_ name: String, free: Int64, cached: Int64 = 0, labels: [String: String] = [:]) -> NodeCandidate {
        let models = cached > 0 ? [NodeTracker.CachedModel(repoID: "org/model", commit: "abc", cachedBytes: cached, totalBytes: 10 * gib)] : []
        return NodeCandidate(name: name, labels: labels, tracker: .init(capacityBytes: 100 * gib, freeBytes: free, models: models))
    }

    @Test func weightsDecideBetweenCacheLocalityAndFreeSpace() {
        let nodes = [Self.node("warm", free: 20 * Self.gib, cached: 8 * Self.gib), Self.node("roomy", free: 95 * Self.gib)]
        #expect(Scheduler.standard().place(Self.request, on: nodes, count: 1).nodes == ["warm"])
        #expect(Scheduler.standard(cacheLocalityWeight: 0, diskAwareWeight: 1).place(Self.request, on: nodes, count: 1).nodes == ["roomy"])
    }

    @Test func aNodeHoldingPartOfTheModelNeedsRoomOnlyForTheRest() {
        let nodes = [Self.node("partial", free: 3 * Self.gib, cached: 8 * Self.gib), Self.node("empty", free: 3 * Self.gib)]
        let placement = Scheduler.standard().place(Self.request, on: nodes, count: 2)
        #expect(placement.nodes == ["partial"])
        #expect(placement.explanation == "1/2 nodes are available: 1 node(s) had too little free disk")
    }

    /// A node with `free` bytes of disk whose agent keeps a quota, of which `used` bytes are taken and `evictable` could go.
    static func node(_ name: String, free: Int64, quota: Int64, used: Int64, evictable: Int64) -> NodeCandidate {
        NodeCandidate(
            name: name,
            tracker: .init(capacityBytes: 100 * gib, freeBytes: free, usedBytes: used, quotaBytes: quota, evictableBytes: evictable))
    }

    @Test func evictableSpaceCountsAsRoomForAModel() {
        // 10 GiB needed, 4 GiB free: the quota's eviction frees 8 GiB more on "evicting"; "held" holds all it uses.
        let nodes = [
            Self.node("evicting", free: 4 * Self.gib, quota: 40 * Self.gib, used: 30 * Self.gib, evictable: 8 * Self.gib),
            Self.node("held", free: 4 * Self.gib, quota: 40 * Self.gib, used: 30 * Self.gib, evictable: 0),
        ]
        let placement = Scheduler.standard().place(Self.request, on: nodes, count: 2)
        #expect(placement.nodes == ["evicting"])
        #expect(placement.explanation == "1/2 nodes are available: 1 node(s) had too little free disk")
    }

    @Test func theQuotaBoundsTheRoomEvenOnAnEmptyDisk() {
        // 90 GiB free, but a 12 GiB quota of which 5 GiB are held: 7 GiB of room, too little for 10 GiB.
        let capped = Self.node("capped", free: 90 * Self.gib, quota: 12 * Self.gib, used: 6 * Self.gib, evictable: 1 * Self.gib)
        #expect(capped.tracker?.roomBytes == 7 * Self.gib)
        #expect(Scheduler.standard().place(Self.request, on: [capped], count: 1).nodes.isEmpty)
    }

    @Test func theScorePrefersTheNodeWithMoreRoomAfterEviction() {
        let nodes = [
            Self.node("tight", free: 12 * Self.gib, quota: 80 * Self.gib, used: 60 * Self.gib, evictable: 0),
            Self.node("evictable", free: 12 * Self.gib, quota: 80 * Self.gib, used: 60 * Self.gib, evictable: 40 * Self.gib),
        ]
        #expect(Scheduler.standard(cacheLocalityWeight: 0, diskAwareWeight: 1).place(Self.request, on: nodes, count: 1).nodes == ["evictable"])
    }

    @Test func tiesGoToTheNodeNameSoPlacementIsStable() {
        let nodes = [Self.node("b", free: 50 * Self.gib), Self.node("a", free: 50 * Self.gib), Self.node("c", free: 50 * Self.gib)]
        #expect(Scheduler.standard().place(Self.request, on: nodes, count: 2).nodes == ["a", "b"])
    }

    @Test func unschedulableAndUnreportedNodesAreFilteredWithReasons() {
        var cordoned = Self.node("cordoned", free: 50 * Self.gib)
        cordoned.unschedulable = true
        let silent = NodeCandidate(name: "silent", tracker: nil)
        let placement = Scheduler.standard().place(Self.request, on: [cordoned, silent], count: 1)
        #expect(placement.nodes.isEmpty)
        #expect(placement.explanation == "0/2 nodes are available: 1 node(s) had no disk report from the agent, 1 node(s) were unschedulable")
    }
}
