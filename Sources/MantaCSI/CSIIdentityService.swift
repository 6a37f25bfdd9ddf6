import GRPCCore
import SwiftProtobuf

/// The CSI Identity service: the plugin's name and version, no controller service, always ready once it listens.
struct CSIIdentityService: Csi_V1_Identity.SimpleServiceProtocol {
    let configuration: CSIPluginConfiguration

    func getPluginInfo(request: Csi_V1_GetPluginInfoRequest, context: ServerContext) async throws -> Csi_V1_GetPluginInfoResponse {
        var response = Csi_V1_GetPluginInfoResponse()
        response.name = configuration.driverName
        response.vendorVersion = configuration.version
        return response
    }

    /// A node-only plugin: no controller service and no topology, so the answer lists nothing.
    func getPluginCapabilities(
        request: Csi_V1_GetPluginCapabilitiesRequest, context: ServerContext
    ) async throws -> Csi_V1_GetPluginCapabilitiesResponse {
        Csi_V1_GetPluginCapabilitiesResponse()
    }

    func probe(request: Csi_V1_ProbeRequest, context: ServerContext) async throws -> Csi_V1_ProbeResponse {
        var response = Csi_V1_ProbeResponse()
        response.ready = Google_Protobuf_BoolValue(true)
        return response
    }
}
