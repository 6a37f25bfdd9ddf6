import Foundation
import MantaKube
import MantaTestSupport
import Testing

/// A `manta up` process with its folder, its output in `<dir>.out` and `<dir>.log`, and a client on its API socket.
struct UpProcess: Sendable {
    let directory: String
    let process: Process
    let client: KubeClient

    var apiSocket: String { directory + "/api.sock" }
    var storeRoot: String { directory + "/store" }

    /// Starts `manta up --dir <directory> --listen 127.0.0.1:0` with `arguments`, and waits until its API answers and
    /// it registered its node (`node`, or any). `api` is the API it joins; by default its own socket.
    static func start(
        _ directory: String, hub: String, _ arguments: [String] = [], node: String? = nil, api: KubeConfig? = nil
    ) async throws -> UpProcess {
        let process = try MantaProcess.process(
            ["up", "--dir", directory, "--listen", "127.0.0.1:0"] + arguments, environment: ["HF_ENDPOINT": hub, "HF_TOKEN": ""])
        for (suffix, handle) in [(".out", \Process.standardOutput), (".log", \Process.standardError)]
            as [(String, ReferenceWritableKeyPath<Process, Any?>)]
        {
            guard FileManager.default.createFile(atPath: directory + suffix, contents: nil) else {
                throw TestFailure("cannot create \(directory)\(suffix)")
            }
            process[keyPath: handle] = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + suffix))
        }
        try process.run()
        let socket = (directory + "/api.sock").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let client = try KubeClient(config: api ?? KubeConfig(server: "http+unix://" + socket), logger: quietLogger)
        let up = UpProcess(directory: directory, process: process, client: client)
        do {
            try await eventually("manta up in \(directory) registers its node (log: \(up.logTail()))") {
                guard process.isRunning else { throw TestFailure("manta up exited: \(up.logTail())") }
                let trackers = (try? await client.list(NodeTracker.self).items) ?? []
                return trackers.contains { $0.status?.address != nil && (node == nil || $0.name == node) }
            }
        } catch {
            await up.stop()
            throw error
        }
        return up
    }

    /// What the process printed on standard output.
    var output: String { (try? String(contentsOfFile: directory + ".out", encoding: .utf8)) ?? "" }

    func logTail() -> String {
        let log = (try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").suffix(20).joined(separator: "\n")
    }

    /// The agent's peer address, from `manta up: node …, agent on HOST:PORT, …`.
    var agentAddress: String? {
        output.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "agent on ") else { return nil }
            return line[range.upperBound...].split(separator: ",").first.map(String.init)
        }.first
    }

    /// `manta <arguments> --dir <directory>`, run to its end off the cooperative pool.
    func run(_ arguments: [String]) async throws -> MantaProcess.Result {
        try await MantaProcess.runAwaitingExit(arguments + ["--dir", directory])
    }

    func torrent(_ name: String) async throws -> Torrent? {
        try await client.getIfPresent(Torrent.self, name: name)
    }

    func waitForPhase(_ name: String, _ phase: Torrent.Phase, timeout: Duration = .seconds(90)) async throws -> Torrent {
        var last: Torrent?
        try await eventually(
            "\(name) reaches \(phase.rawValue) (last: \(String(describing: last?.status?.phase))); log: \(logTail())", timeout: timeout
        ) {
            last = try await torrent(name)
            return last?.status?.phase == phase
        }
        guard let last else { throw TestFailure("\(name) vanished") }
        return last
    }

    /// SIGTERM, then SIGKILL if it still runs 15 s later; the client closes.
    func stop() async {
        try? await client.shutdown()
        await Cluster.stop([process])
    }
}
