import Foundation
import HTTPTypes
import Hummingbird
import MantaKube
import NIOCore

extension EmbeddedAPIServer {
    /// How the API server treats fields a schema does not declare (`fieldValidation`): dropped silently, dropped
    /// with a `Warning` header (the API server's default), or refused.
    enum FieldValidation: String {
        case ignore = "Ignore"
        case warn = "Warn"
        case strict = "Strict"
    }

    /// The query parameters of a write: field validation, and a server dry run (`dryRun=All`), which answers what
    /// the write would store and stores nothing.
    struct WriteOptions {
        var fieldValidation = FieldValidation.warn
        var dryRun = false

        init(query: [String: String], body: ByteBuffer) throws(APIRequestError) {
            if let value = query["fieldValidation"] {
                guard let validation = FieldValidation(rawValue: value) else {
                    throw APIRequestError(
                        code: 400, reason: "BadRequest",
                        message: "fieldValidation: Unsupported value: \"\(value)\": supported values: \"Ignore\", \"Warn\", \"Strict\"")
                }
                fieldValidation = validation
            }
            // kubectl delete sends its dry run in the DeleteOptions body, the other writes in the query.
            var values = query["dryRun"].map { [$0] } ?? []
            if let options = try? JSONDecoder().decode(JSONValue.self, from: body), case .array(let listed)? = options["dryRun"] {
                values += listed.compactMap(\.stringValue)
            }
            for value in values where value != "All" {
                throw APIRequestError(code: 400, reason: "BadRequest", message: "dryRun: Unsupported value: \"\(value)\": supported values: \"All\"")
            }
            dryRun = !values.isEmpty
        }
    }

    /// `response` with one `Warning: 299 - "…"` header per warning, which kubectl prints as `Warning: …`.
    static func warning(_ response: Response, _ warnings: [String]) -> Response {
        var response = response
        for warning in warnings {
            let quoted = warning.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            response.headers.append(HTTPField(name: warningHeader, value: "299 - \"\(quoted)\""))
        }
        return response
    }

    static let warningHeader = HTTPField.Name("Warning")!
}
