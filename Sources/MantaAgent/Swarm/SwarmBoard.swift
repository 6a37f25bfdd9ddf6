import Foundation
import MantaHub
import MantaPeer
import MantaStore
import MantaTransfer
import MantaWire
import Synchronization

/// What this node tells peers about a revision (`POST /v1/swarm`): a complete manifest if it has one, and
/// the pulls under way here with the chunks they have stored so far (read from their resume journals).
final class SwarmBoard: Sendable {
    let store: Store
    /// This agent's identity among the followers of a pull.
    let node = UUID().uuidString
    /// Pulls under way: `repo@commit` → when they started (seconds since 1970).
    private let pulls = Mutex<[String: Double]>([:])
    /// What was read of the resume journals of the pulls under way (`repo@commit` → file → chunks and where
    /// reading stopped): peers ask several times a second, and each answer reads only what was appended since.
    private let journalsRead = Mutex<[String: [String: (position: ResumeJournal.ReadPosition, chunks: [Manifest.Chunk])]]>([:])
    /// The rate each pull under way receives chunks from peers at (`FollowBoard.receiveRate`).
    private let receiveRates = Mutex<[String: Double]>([:])

    init(store: Store, clock: some Clock<Duration>) {
        self.store = store
        self.clock = Stopwatch(clock)
    }

    /// Announces a pull of `repo@commit`; returns its start time, which orders it against peers' pulls.
    func begin(repo: String, commit: String) -> Double {
        let now = Date().timeIntervalSince1970
        return pulls.withLock { pulls in
            if let started = pulls["\(repo)@\(commit)"] { return started }
            pulls["\(repo)@\(commit)"] = now
            return now
        }
    }

    /// The pull of `repo@commit` is over: from now on the store's references tell whether the revision is here.
    func end(repo: String, commit: String) {
        _ = pulls.withLock { $0.removeValue(forKey: "\(repo)@\(commit)") }
        _ = journalsRead.withLock { $0.removeValue(forKey: "\(repo)@\(commit)") }
        _ = receiveRates.withLock { $0.removeValue(forKey: "\(repo)@\(commit)") }
    }

    /// The pull of `repo@commit` now receives chunks from peers at `rate`, as its answers will say.
    func note(_ rate: Double?, repo: String, commit: String) {
        guard let rate else { return }
        receiveRates.withLock { rates in
            // Only for a pull under way: a worker finishing after `end` must not leave an entry behind.
            if pulls.withLock({ $0["\(repo)@\(commit)"] }) != nil { rates["\(repo)@\(commit)"] = rate }
        }
    }

    /// Blocking: reads the store's references, manifests and journals. `query` has passed `SwarmQuery.validated()`.
    /// At most `SwarmStatus.maximumChunks` chunk entries are sent; the asker counts them as `seen` and gets the rest next.
    func status(for query: SwarmQuery) -> SwarmStatus {
        let pull = "\(query.repo)@\(query.commit)"
        let started = pulls.withLock { $0[pull] }
        // Not pulling it: the answer must be current, or a follower would take a just-finished node for a dead one.
        var status = SwarmStatus(node: node, manifest: started == nil ? findCompleteManifest(for: query) : completeManifest(for: query))
        guard status.manifest == nil, let started else { return status }
        status.pullingSince = started
        status.receiveRate = receiveRates.withLock { $0[pull] }
        guard query.chunkSize == store.configuration.chunkSize, let repo = try? HubRepoID(query.repo) else { return status }
        var room = SwarmStatus.maximumChunks
        for file in query.files where room > 0 {
            guard let journal = try? ResumeJournal(store: store, repo: repo, commit: query.commit, file: file) else { continue }
            // Journal lines are appended once their chunk is stored, so the order is stable and `seen` a count of lines.
            let chunks = journalsRead.withLock { read in
                var entry = read[pull]?[file] ?? (ResumeJournal.ReadPosition(), [])
                let (appended, fromStart) = journal.entries(since: &entry.position)
                if fromStart { entry.chunks = [] }
                entry.chunks += appended.map { Manifest.Chunk(offset: $0.span.offset, length: $0.span.length, id: $0.id) }
                // Only files with journal lines are remembered: a peer naming files this pull does not have grows nothing.
                if entry.chunks.isEmpty { read[pull]?[file] = nil } else { read[pull, default: [:]][file] = entry }
                return entry.chunks.dropFirst(query.seen?[file] ?? 0).prefix(room)
            }
            room -= chunks.count
            if !chunks.isEmpty { status.chunks[file] = Array(chunks) }
        }
        return status
    }

    /// While this node pulls a revision, answers about complete ones are kept this long: followers ask
    /// several times a second, and finding one reads every reference's manifest.
    static let completeAnswerLifetime: Duration = .milliseconds(500)
    private let completeAnswers = Mutex<[String: (digest: Digest?, at: Duration)]>([:])
    private let clock: Stopwatch

    /// A manifest of the revision holding every queried file, with every chunk stored.
    private func completeManifest(for query: SwarmQuery) -> Digest? {
        let key = "\(query.repo)@\(query.commit)\u{0}\(query.files.joined(separator: "\u{0}"))"
        let now = clock.elapsed
        if let cached = completeAnswers.withLock({ $0[key] }), now - cached.at < Self.completeAnswerLifetime { return cached.digest }
        let digest = findCompleteManifest(for: query)
        completeAnswers.withLock { answers in
            // Keys hold the peer's file list: without pruning, peers asking with ever new lists would grow it for good.
            answers = answers.filter { now - $0.value.at < Self.completeAnswerLifetime }
            answers[key] = (digest, now)
        }
        return digest
    }

    private func findCompleteManifest(for query: SwarmQuery) -> Digest? {
        for (_, digest) in (try? store.references()) ?? [] {
            guard let manifest = try? store.manifest(digest), manifest.source.repo == query.repo, manifest.source.commit == query.commit,
                query.files.allSatisfy({ manifest.file(at: $0) != nil }),
                manifest.files.allSatisfy({ $0.chunks.allSatisfy { store.contains($0.id) } })
            else { continue }
            return digest
        }
        return nil
    }
}
