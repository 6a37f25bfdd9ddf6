/// What the CSI node plugin answers kubelet with and where it listens.
public struct CSIPluginConfiguration: Sendable {
    /// The driver name pods and the `CSIDriver` object use.
    public static let defaultDriverName = "csi.manta.io"

    /// The unix socket kubelet's node-driver-registrar hands to kubelet, e.g.
    /// `/var/lib/kubelet/plugins/csi.manta.io/csi.sock`.
    public var socketPath: String
    public var driverName: String
    /// The node as kubelet knows it (`NodeGetInfo`): the Kubernetes node name.
    public var nodeID: String
    /// The release, reported as the plugin's vendor version.
    public var version: String

    public init(socketPath: String, driverName: String = CSIPluginConfiguration.defaultDriverName, nodeID: String, version: String) {
        self.socketPath = socketPath
        self.driverName = driverName
        self.nodeID = nodeID
        self.version = version
    }
}
