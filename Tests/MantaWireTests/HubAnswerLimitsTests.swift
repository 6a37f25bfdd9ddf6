import MantaTestSupport
import MantaWire
import Testing

@Suite(.threadsOfItsOwn) struct HubAnswerLimitsTests {
    @Test func eachCapIsSetByItsEnvironmentVariableAndTheDefaultsStandOtherwise() throws {
        #expect(try HubAnswerLimits(environment: [:]) == HubAnswerLimits())
        let raised = try HubAnswerLimits(environment: ["MANTA_HUB_MAX_PAGES": "5000", "MANTA_HUB_MAX_PLAIN_FILE_SIZE": "1048576"])
        #expect(raised.maximumPages == 5000)
        #expect(raised.maximumPlainFileSize == 1 << 20)
        #expect(raised.maximumEntries == HubAnswerLimits().maximumEntries)
        #expect(HubAnswerLimits.variable(for: "maximumAnswerBytes") == "MANTA_HUB_MAX_ANSWER_BYTES")
    }

    @Test(arguments: ["0", "-1", "12GB", "99999999999999999999999"])
    func aSettingThatIsNotAPositiveWholeNumberIsRefusedNamingTheVariable(_ value: String) {
        #expect(throws: HubAnswerError.invalidSetting(variable: "MANTA_HUB_MAX_FILE_SIZE", value: value)) {
            try HubAnswerLimits(environment: ["MANTA_HUB_MAX_FILE_SIZE": value])
        }
    }

    @Test func aCapThatIsExceededNamesTheVariableThatRaisesIt() throws {
        let limits = try HubAnswerLimits(environment: ["MANTA_HUB_MAX_PAGES": "1"])
        let page = Array(#"[{"type":"file","oid":"0123456789abcdef0123456789abcdef01234567","size":2,"path":"a.json"}]"#.utf8)
        var single = HubTreeListing(limits: limits)
        #expect(throws: Never.self) { try single.add(page: page, hasNext: false) }
        var linked = HubTreeListing(limits: limits)
        #expect {
            try linked.add(page: page, hasNext: true)
        } throws: { error in
            "\(error)".contains("MANTA_HUB_MAX_PAGES raises it")
        }
    }
}
