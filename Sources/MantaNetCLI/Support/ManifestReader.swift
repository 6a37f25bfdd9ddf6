import ArgumentParser
import Foundation
import MantaKube
import Yams

/// The objects of `manta apply -f`: every YAML or JSON document of the files named (a folder: its `.yaml`, `.yml`
/// and `.json` files in name order; `-`: standard input), each with where it came from for messages.
enum ManifestReader {
    struct Document: Sendable {
        var source: String
        var object: JSONValue
    }

    /// Manifests larger than this are refused before parsing.
    static let maxBytes = 16 << 20

    static func documents(_ paths: [String]) throws -> [Document] {
        var documents: [Document] = []
        for path in paths {
            for file in try files(path) {
                let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try read(file)
                guard data.count <= maxBytes else { throw ValidationError("\(file) is over \(maxBytes >> 20) MiB: not a manifest") }
                let text = String(decoding: data, as: UTF8.self)
                var parsed: [Any?] = []
                do {
                    let parser = try Parser(yaml: text)
                    while let root = try parser.nextRoot() { parsed.append(root.any) }
                } catch {
                    throw ValidationError("\(file) is not valid YAML: \(error); nothing was applied")
                }
                for (index, value) in parsed.enumerated() {
                    guard let value else { continue }
                    let source = parsed.count > 1 ? "\(file) (document \(index + 1))" : file
                    guard case .object = try json(value, source: source) else {
                        throw ValidationError("\(source) is not an object with apiVersion, kind and metadata; nothing was applied")
                    }
                    documents.append(Document(source: source, object: try json(value, source: source)))
                }
            }
        }
        return documents
    }

    private static func files(_ path: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { return [path] }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        let manifests = names.filter { name in [".yaml", ".yml", ".json"].contains { name.hasSuffix($0) } }
        return manifests.sorted().map { "\(path)/\($0)" }
    }

    private static func read(_ file: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        return data
    }

    /// YAML's values as JSON; what JSON cannot hold (binary, non-string keys) is refused.
    private static func json(_ value: Any, source: String) throws -> JSONValue {
        switch value {
        case let bool as Bool: return .bool(bool)
        case let int as Int: return .int(Int64(int))
        case let double as Double: return .double(double)
        case let string as String: return .string(string)
        case let array as [Any?]: return .array(try array.map { try $0.map { try json($0, source: source) } ?? .null })
        case let object as [String: Any?]:
            return .object(try object.mapValues { try $0.map { try json($0, source: source) } ?? .null })
        case let object as [AnyHashable: Any?]:
            var fields: [String: JSONValue] = [:]
            for (key, field) in object {
                guard let key = key.base as? String else { throw ValidationError("\(source): the key \(key) is not a string") }
                fields[key] = try field.map { try json($0, source: source) } ?? .null
            }
            return .object(fields)
        default:
            throw ValidationError("\(source): \(type(of: value)) values have no JSON form")
        }
    }
}
