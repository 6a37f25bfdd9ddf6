import MantaFuzz

#if canImport(Glibc)
import Glibc
#endif

/// The libFuzzer entry points for every `FuzzTarget`; `MANTA_FUZZ_TARGET` picks one per process
/// (scripts/fuzz.sh sets it). Built only by scripts/fuzz.sh, with `-sanitize=fuzzer`, which supplies `main`.
let selected = getenv("MANTA_FUZZ_TARGET").flatMap { FuzzTarget(rawValue: String(cString: $0)) }

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt
{
    guard selected == nil else { return 0 }
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    report("set MANTA_FUZZ_TARGET to one of: \(names)")
    exit(2)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let selected else { return 0 }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try selected.run(bytes)
    } catch {
        // A broken invariant is a finding like a trap: abort, so libFuzzer saves the input.
        report("\(error)")
        abort()
    }
    return 0
}

private func report(_ message: String) {
    var line = "manta-fuzz: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
