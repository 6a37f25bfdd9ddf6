import ArgumentParser
import MantaCLISupport
import MantaStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the models in the store with their revisions, logical, present and stored sizes."
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let references = try store.references()
        let registrations = try store.registrations()
        guard !references.isEmpty || !registrations.isEmpty else {
            print("no models in \(store.root): `manta import <dir> --repo org/name` adds one")
            return
        }
        let pinned = Set(try store.pins().map(\.manifest))
        let storedSizes = try store.storedSizes()
        var rows = [["MODEL", "REVISION", "COMMIT", "FILES", "SIZE", "PRESENT", "STORED", "PINNED"]]
        for (reference, digest) in references {
            let manifest = try store.manifest(digest)
            let presence = store.presence(of: manifest, storedSizes: storedSizes)
            rows.append([
                reference.repo, reference.revision, String(manifest.source.commit.prefix(12)), "\(manifest.files.count)",
                ByteCount.format(manifest.logicalSize), ByteCount.format(presence.presentBytes), ByteCount.format(presence.storedBytes),
                pinned.contains(digest) ? "yes" : "no",
            ])
        }
        for (reference, digest) in registrations {
            let registration = try store.registration(digest)
            let progress = store.progress(of: digest, registration: registration)
            var present: UInt64 = 0
            var stored: UInt64 = 0
            for (file, ids) in zip(registration.files, progress.ids) {
                for (span, id) in zip(file.spans, ids) {
                    guard let id else { continue }
                    present += span.length
                    stored += storedSizes[id] ?? 0
                }
            }
            rows.append([
                reference.repo, reference.revision, String(registration.source.commit.prefix(12)), "\(registration.files.count)",
                ByteCount.format(registration.logicalSize), ByteCount.format(present), ByteCount.format(stored), "lazy",
            ])
        }
        printTable(rows)
    }
}

/// Prints rows as left-aligned columns.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ").trimmingTrailingSpaces())
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
