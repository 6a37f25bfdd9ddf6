/// A coding key for any string: decoding an object whose keys are data (tensor names, kubeconfig entries).
public struct StringCodingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }

    public init(_ string: String) {
        stringValue = string
    }

    public init(stringValue: String) {
        self.stringValue = stringValue
    }

    public init?(intValue: Int) {
        nil
    }
}
