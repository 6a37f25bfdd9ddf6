/// What a follower makes of a round of its peers' answers (`SwarmPuller`; `SwarmSimulation` applies the same).
enum FollowVerdict: Equatable {
    /// Go on following: the answers go to the `FollowBoard`.
    case follow
    /// Skip this round and ask again.
    case wait
    /// Pull the rest from the hub.
    case hub
    /// Peers hold the revision complete, and every chunk is here (or they stopped giving): finish from them.
    case finish

    /// Rounds of polls in a row without an answer from a peer that started pulling before this one, after which a
    /// follower stops waiting for one and pulls the rest from the hub.
    static let missedRoundsBeforeLeaving = 3

    /// - Parameters:
    ///   - holdersAnswered: a peer answered that it holds the revision complete.
    ///   - manifestAccepted: their manifest (of this round or an earlier one) was fetched and matches the hub's file list.
    ///   - anEarlierPuller: a peer that started pulling before this node answered.
    ///   - following: this node's fetch workers have started.
    ///   - stalled: the pull did not move for the stall timeout (`FollowBoard.sinceLastProgress`).
    ///   - allHere: every chunk of the accepted manifest is in the store.
    init(
        holdersAnswered: Bool, manifestAccepted: Bool, anEarlierPuller: Bool, following: Bool, roundsWithoutAnEarlierPuller: Int, stalled: Bool,
        allHere: Bool
    ) {
        if holdersAnswered {
            // A manifest that fails the hub's list sends this node to the hub.
            self = !manifestAccepted ? .hub : allHere || stalled ? .finish : .follow
        } else if !anEarlierPuller {
            // Nobody started before this node: it pulls from the hub. Once it follows, one round in which the node
            // it follows did not answer (an answer lost, a peer too busy) is no reason to leave the line.
            self = following && roundsWithoutAnEarlierPuller < Self.missedRoundsBeforeLeaving ? .wait : .hub
        } else {
            self = stalled ? .hub : manifestAccepted && allHere ? .finish : .follow
        }
    }
}
