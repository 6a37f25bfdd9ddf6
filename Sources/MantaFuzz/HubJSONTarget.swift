import MantaStore
import MantaWire

/// Input: one selector byte (bit 0: model info or tree pages; bit 1: the default caps or small ones that a short
/// input can reach), then JSON; tree pages are separated by 0xFF, a byte no UTF-8 JSON holds. Each goes through
/// the checks the hub client makes; a listing they accept must keep its promises.
enum HubJSONTarget {
    static let smallLimits = HubAnswerLimits(
        maximumAnswerBytes: 4096, maximumPages: 3, maximumEntries: 8, maximumFileSize: 1 << 20, maximumTotalSize: 3 << 20,
        maximumPlainFileSize: 1 << 10
    )

    static func run(_ input: inout FuzzInput) throws(InvariantViolation) {
        let selector = input.byte()
        let limits = selector & 2 == 0 ? HubAnswerLimits() : smallLimits
        let bytes = input.rest
        guard selector & 1 == 1 else {
            _ = try? HubWire.commit(ofModelInfo: bytes, limits: limits)
            return
        }
        var listing = HubTreeListing(limits: limits)
        let pages = bytes.split(separator: 0xFF, omittingEmptySubsequences: false)
        for (index, page) in pages.enumerated() {
            do {
                try listing.add(page: Array(page), hasNext: index + 1 < pages.count)
            } catch {
                return
            }
        }
        var total: Int64 = 0
        for file in listing.files {
            let (sum, overflow) = total.addingReportingOverflow(file.size)
            guard !overflow, file.size >= 0, file.size <= limits.maximumFileSize, Manifest.isSafeRelativePath(file.path) else {
                throw InvariantViolation(target: .hubJSON, message: "'\(file.path)' of \(file.size) bytes was accepted")
            }
            total = sum
        }
        guard total == listing.totalSize, total <= limits.maximumTotalSize, listing.pages <= limits.maximumPages,
            listing.entries <= limits.maximumEntries, Set(listing.files.map(\.path)).count == listing.files.count
        else {
            throw InvariantViolation(
                target: .hubJSON, message: "a listing of \(listing.pages) pages, \(listing.files.count) files, \(total) bytes broke its caps")
        }
    }
}
