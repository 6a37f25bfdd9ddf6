import MantaTestSupport
import MantaWire
import Testing

@Suite(.threadsOfItsOwn) struct ByteRangeTests {
    @Test func byteRangesParseLikeRFC9110() {
        #expect(ByteRange.parse(nil, length: 10) == .whole)
        #expect(ByteRange.parse("bytes=2-4", length: 10) == .partial(ByteRange(2, 5)))
        #expect(ByteRange.parse("bytes=8-", length: 10) == .partial(ByteRange(8, 10)))
        #expect(ByteRange.parse("bytes=5-100", length: 10) == .partial(ByteRange(5, 10)))
        #expect(ByteRange.parse("bytes=-3", length: 10) == .partial(ByteRange(7, 10)))
        #expect(ByteRange.parse("bytes=-30", length: 10) == .partial(ByteRange(0, 10)))
        #expect(ByteRange.parse("bytes=10-", length: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-0", length: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-1,4-5", length: 10) == .whole)
        #expect(ByteRange.parse("items=0-1", length: 10) == .whole)
        #expect(ByteRange.parse("bytes=4-2", length: 10) == .whole)
        #expect(ByteRange.parse("bytes=-x", length: 10) == .whole)
    }

    @Test func numbersAtAndPastTheLimitsOfUInt64AreClampedOrIgnoredNeverAddedTo() {
        let largest = "18446744073709551615"
        #expect(ByteRange.parse("bytes=0-\(largest)", length: 10) == .partial(ByteRange(0, 10)))
        #expect(ByteRange.parse("bytes=9-\(largest)", length: 10) == .partial(ByteRange(9, 10)))
        #expect(ByteRange.parse("bytes=\(largest)-\(largest)", length: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=\(largest)-", length: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-\(largest)", length: 10) == .partial(ByteRange(0, 10)))
        #expect(ByteRange.parse("bytes=0-18446744073709551616", length: 10) == .whole)
        #expect(ByteRange.parse("bytes=18446744073709551616-", length: 10) == .whole)
        #expect(ByteRange.parse("bytes=-99999999999999999999999", length: 10) == .whole)
        #expect(ByteRange.parse("bytes=0-\(largest)", length: UInt64.max) == .partial(ByteRange(0, UInt64.max)))
        #expect(ByteRange.parse("bytes=0-\(largest)", length: 0) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-1", length: 0) == .unsatisfiable)
    }

    @Test func contentRangeIsInclusive() {
        #expect(ByteRange(10, 100).contentRange(of: 200) == "bytes 10-99/200")
    }
}
