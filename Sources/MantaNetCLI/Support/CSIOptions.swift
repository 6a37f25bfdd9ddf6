import ArgumentParser
import Foundation
import Logging
import MantaAgent
import MantaCLISupport

/// The agent's CSI node plugin (`manta agent --csi-socket`), which kubelet publishes Manta volumes through.
struct CSIOptions: ParsableArguments {
    @Option(
        name: .customLong("csi-socket"),
        help: ArgumentHelp(
            "Serve the CSI node plugin on this unix socket (root only), e.g. /var/lib/kubelet/plugins/csi.manta.io/csi.sock.", valueName: "path"))
    var socket: String?

    @Option(
        name: .customLong("csi-driver-name"),
        help: ArgumentHelp("The CSI driver name pods and the CSIDriver object use (default: csi.manta.io).", valueName: "name"))
    var driverName: String?

    func validate() throws {
        if let socket, !socket.hasPrefix("/") { throw ValidationError("--csi-socket must be an absolute path, not '\(socket)'") }
        if driverName != nil, socket == nil { throw ValidationError("--csi-driver-name needs --csi-socket") }
        if let driverName, !Self.isDriverName(driverName) {
            throw ValidationError("--csi-driver-name '\(driverName)' is not a DNS name of at most 63 characters (letters, digits, '-', '.')")
        }
    }

    /// The plugin as a service of the agent, or nil without `--csi-socket`. `nodeName` nil: this host's name.
    func service(agent: AgentService, cluster: ClusterAgent?, nodeName: String?, logger: Logger) -> AgentCSIService? {
        guard let socket else { return nil }
        return AgentCSIService(
            agent: agent, cluster: cluster, socketPath: socket, driverName: driverName,
            nodeID: nodeName ?? ProcessInfo.processInfo.hostName, version: MantaVersion.current, logger: logger)
    }

    /// The spec's rule for plugin names: at most 63 characters, alphanumerics at both ends, `-` and `.` between.
    static func isDriverName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) }
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }
}
