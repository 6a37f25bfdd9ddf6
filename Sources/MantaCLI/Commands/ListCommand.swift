import ArgumentParser
import MantaStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the models in the store with their revisions, logical and stored sizes."
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
        var rows = [["MODEL", "REVISION", "COMMIT", "FILES", "SIZE", "PRESENT", "PINNED"]]
        for (reference, digest) in references {
            let manifest = try store.manifest(digest)
            let presence = store.presence(of: manifest)
            rows.append([
                reference.repo, reference.revision, String(manifest.source.commit.prefix(12)), "\(manifest.files.count)",
                ByteCount.format(manifest.logicalSize), ByteCount.format(presence.presentBytes), pinned.contains(digest) ? "yes" : "no",
            ])
        }
        for (reference, digest) in registrations {
            let registration = try store.registration(digest)
            let progress = store.progress(of: digest, registration: registration)
            let present = zip(registration.files, progress.ids).reduce(UInt64(0)) { total, file in
                total + zip(file.0.spans, file.1).reduce(0) { $0 + ($1.1 == nil ? 0 : $1.0.length) }
            }
            rows.append([
                reference.repo, reference.revision, String(registration.source.commit.prefix(12)), "\(registration.files.count)",
                ByteCount.format(registration.logicalSize), ByteCount.format(present), "lazy",
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
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingTrailingSpaces())
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
