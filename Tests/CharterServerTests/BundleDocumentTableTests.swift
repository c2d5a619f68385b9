import CharterBundle
import CharterCore
import Testing

@Suite("Bundle document table")
struct BundleDocumentTableTests {
    @Test("settings text with escapes and non-ASCII goes into a bundle as it is, each distinct document once")
    func settingsTextIsCarriedAsIs() throws {
        let unusual = Settings(
            preApprovedApplications: [
                .init(fileName: "tab\tform\u{c}back\u{8}\u{1} \"é\" \\ 工具.exe", protection: .none)
            ]
        )
        var table = BundlePolicy.DocumentTable()
        let first = try table.add(canonicalData: unusual.canonicalData)
        #expect(table.byID[first]?.canonicalData == unusual.canonicalData)
        #expect(try table.add(canonicalData: Settings().canonicalData) == "d2")
        #expect(try table.add(canonicalData: unusual.canonicalData) == first)
        #expect(table.byID.count == 2)
    }
}
