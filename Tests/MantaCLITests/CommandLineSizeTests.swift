import MantaCLISupport
import MantaStore
import MantaTestSupport
import MantaTransfer
import Testing

/// Sizes and rates on the command line are parsed without overflow: a number too large for its type is refused
/// with a message naming the option, never trapped on or wrapped.
@Suite(.threadsOfItsOwn) struct CommandLineSizeTests {
    @Test(arguments: [
        "99999999999999999999GB", "18446744073709551616", "1.9e19", "17TiB" + "0000000", "1e400", "nan", "inf", "-1", "-0.5GiB", "12XB", "",
    ])
    func sizesTooLargeOrNotNumbersAreRefused(text: String) {
        #expect(ByteCount(argument: text) == nil, "\(text)")
    }

    @Test func sizesUpToTheTopOfUInt64AreExact() {
        #expect(ByteCount(argument: "4MiB")?.bytes == 4 << 20)
        #expect(ByteCount(argument: "1.5GiB")?.bytes == 3 << 29)
        #expect(ByteCount(argument: "16000000TB")?.bytes == 16_000_000_000_000_000_000)
        #expect(ByteCount(argument: "0")?.bytes == 0)
    }

    @Test(arguments: ["99999999999999999999GB/s", "1e400B/s", "nan", "0", "-5MB/s", "1e15", "MB/s"])
    func ratesTooLargeOrNotPositiveAreRefused(text: String) {
        #expect(RateLimiter.parseRate(text) == nil, "\(text)")
    }

    @Test func theCommandsSayWhichOptionIsWrongAndExitCleanly() throws {
        let scratch = try TemporaryDirectory()
        let quota = try MantaProcess.run(["gc", "--dry-run", "--quota", "99999999999999999999GB", "--store", scratch.appending("store")])
        #expect(quota.status == 64, "a usage error, not a crash: \(quota.status)")
        #expect(quota.standardError.contains("'99999999999999999999GB' is invalid for '--quota"), "\(quota.standardError)")
        let rate = try MantaProcess.run([
            "agent", "--listen", "127.0.0.1:0", "--upload-rate", "99999999999999999999GB/s", "--store", scratch.appending("store"),
        ])
        #expect(rate.status == 64, "a usage error, not a crash: \(rate.status)")
        #expect(rate.standardError.contains("--upload-rate '99999999999999999999GB/s'"), "\(rate.standardError)")
    }
}
