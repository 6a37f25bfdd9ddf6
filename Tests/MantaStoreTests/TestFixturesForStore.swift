import MantaTestSupport

enum TestFixturesForStore {
    static func ggufPath() throws -> String { try Fixtures.gguf() + "/model.gguf" }
}
