/// Where each follower sits in one stripe's tree (`FollowBoard.parent`): a heap under the puller with `fanOut`
/// children per position. The positions with children go to nodes so that no node feeds more than `fanOut` children
/// over all stripes: a node feeding more shares its upload among them, and the whole stripe below it runs that much
/// slower. Stripe `s` is fed by the block of followers `s × full ..< (s + 1) × full`, each with `fanOut` children, and
/// by one node after all the blocks with the rest; the other followers hang below as leaves, in the order that
/// starts after the stripe's block. There are as many stripes as children per position (`fanOut`), so the blocks
/// of all stripes take `fanOut × full` followers. The last `leaves` followers (slow ones, `FollowBoard.slow`) are not
/// the partial node where the other nodes after the blocks can take it in every stripe, so that they feed nobody: with
/// one slow node they can, except where four nodes are left after the blocks and each stripe's partial node has three
/// children. (Rotating one order by a quarter per stripe, as before, gave one of 15 followers six children: its stripe
/// took 5 s a chunk where the others took 3.4, simulated at 5 MB/s.)
struct StripeLayout {
    let count: Int
    let stripe: Int
    let fanOut: Int
    /// Positions with `fanOut` children in each stripe.
    private let full: Int
    /// The follower feeding the stripe's last position with children, which has the rest of them.
    private let partialOwner: Int?
    /// The follower that feeds the root of the late followers' own tree in this stripe (`FollowBoard.parent`): one of
    /// the fast nodes after the blocks, which have upload to spare where the blocks' nodes have none, other than the
    /// stripe's partial owner where there are two. Nil where every node after the blocks is slow.
    let feeder: Int?

    init(followers count: Int, stripe: Int, fanOut: Int = FollowBoard.treeFanOut, leaves: Int = 0) {
        self.count = count
        self.stripe = stripe
        self.fanOut = fanOut
        // Position p has children where fanOut × p + 1 < count.
        full = count > 1 ? (count - 2) / fanOut : 0
        // At least two followers are left after the blocks, and the rest of the children, spread over them, stay within fanOut.
        let afterBlocks = fanOut * full
        let left = count - afterBlocks
        // The partial positions of all stripes go round the nodes left after the blocks; the slow ones among them, at
        // the end, are passed over where the others can take every stripe's partial children within fanOut.
        let fast = left - leaves
        let fastSuffice = fast > 0 && (fanOut + fast - 1) / fast * (left - 1) <= fanOut
        partialOwner = count > 1 ? afterBlocks + stripe % (fastSuffice ? fast : left) : nil
        feeder = fast > 0 ? afterBlocks + (stripe + 1) % fast : nil
    }

    /// The follower (an index into the followers in order) at a position of the heap.
    func follower(at position: Int) -> Int {
        if position < full { return stripe * full + position }
        if position == full, let partialOwner { return partialOwner }
        let leaf = position - full - (partialOwner == nil ? 0 : 1)
        return (leavesStart + (leaf >= partialOffset ? leaf + 1 : leaf)) % count
    }

    /// The position of a follower (an index into the followers in order) in the heap.
    func position(of follower: Int) -> Int {
        if (stripe * full..<(stripe + 1) * full).contains(follower) { return follower - stripe * full }
        if follower == partialOwner { return full }
        let offset = (follower - leavesStart + count) % count
        return full + (partialOwner == nil ? 0 : 1) + (offset > partialOffset ? offset - 1 : offset)
    }

    private var leavesStart: Int { (stripe + 1) * full % count }

    /// Where the partial owner falls in the leaves' order, which skips it; past every leaf when there is none.
    private var partialOffset: Int { partialOwner.map { ($0 - leavesStart + count) % count } ?? count }
}
