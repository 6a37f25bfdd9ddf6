import Foundation
import MantaKube
import MantaKubeAPI
import MantaTestSupport
import Testing
import Yams

/// The Torrent schema the embedded API validates with and serves at `/openapi/v3` is the CRD's, so `manta up`
/// and a cluster refuse the same Torrents.
@Suite(.timeLimit(.minutes(1)), .threadsOfItsOwn) struct TorrentOpenAPISchemaTests {
    @Test func theServedSpecSchemaIsTheCRDsLessDescriptionsAndCELRules() throws {
        let yaml = try String(contentsOfFile: PackageFolder.path + "/deploy/crds/manta.io_torrents.yaml", encoding: .utf8)
        let crd = try YAMLDecoder().decode(JSONValue.self, from: yaml)
        guard case .array(let versions)? = crd["spec"]?["versions"] else {
            Issue.record("the CRD lists no versions")
            return
        }
        let crdSpec = try #require(versions.first?["schema"]?["openAPIV3Schema"]?["properties"]?["spec"])
        #expect(Self.withoutProse(crdSpec) == TorrentSchema.openAPI["properties"]?["spec"])
    }

    @Test func strictAdmissionRefusesFieldsTheSchemaDoesNotDeclareOtherwiseTheyArePrunedAndMapsAndStatusStayOpen() throws {
        let torrent: JSONValue = [
            "metadata": ["name": "t", "labels": ["a": "b"]],
            "spec": ["hub": ["repoID": "a/b", "revison": "v1"], "replica": 2, "nodeSelector": ["zone": "a"]],
            "status": ["phase": "Ready", "anything": 1],
        ]
        let error = #expect(throws: APIRequestError.self) { try TorrentSchema.admit(torrent, old: nil, name: "t", strict: true) }
        #expect(error?.code == 400)
        #expect(
            error?.message.hasSuffix("strict decoding error: unknown field \"spec.hub.revison\", unknown field \"spec.replica\"") == true,
            "\(String(describing: error?.message))")
        let admitted = try TorrentSchema.admit(torrent, old: nil, name: "t")
        #expect(admitted["spec"]?["replica"] == nil && admitted["spec"]?["hub"]?["revison"] == nil, "without strict, unknown fields are pruned")
        #expect(
            admitted["spec"]?["nodeSelector"]?["zone"] == "a" && admitted["metadata"]?["labels"]?["a"] == "b" && admitted["status"]?["anything"] == 1)
    }

    /// `schema` without `description` and `x-kubernetes-validations` (CEL rules the server checks in code).
    static func withoutProse(_ schema: JSONValue) -> JSONValue {
        switch schema {
        case .object(let fields):
            .object(fields.filter { !["description", "x-kubernetes-validations"].contains($0.key) }.mapValues(withoutProse))
        case .array(let items):
            .array(items.map(withoutProse))
        default:
            schema
        }
    }
}
