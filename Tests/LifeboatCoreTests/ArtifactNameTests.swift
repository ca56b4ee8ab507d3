import LifeboatCore
import Testing

@Suite struct ArtifactNameTests {
    static let oddNames = [
        "../x", "a/b", "..", ".", "with space", "日本語", String(repeating: "x", count: 63), "", "/", "\\", "a\0b",
    ]

    @Test(arguments: oddNames)
    func derivedNamesAreSafe(name: String) {
        let derived = ArtifactName.tableData(position: 7, table: TableName(schema: "../../etc", name: name))
        #expect(ArtifactName.isSafe(derived))
        #expect(derived.hasPrefix("data/000007-"))
        #expect(derived.split(separator: "/").count == 2)
        #expect(!derived.contains(".."))
    }

    @Test func positionsKeepSimilarNamesApart() {
        let names = Set((1...50).map { ArtifactName.tableData(position: $0, table: TableName(schema: "s", name: "a/b")) })
        #expect(names.count == 50)
    }

    @Test(arguments: ["../x", "/etc/passwd", "data/../../x", "a//b", "", "data/x y", "a/b/c", "./x"])
    func unsafeNamesAreRejected(name: String) {
        #expect(!ArtifactName.isSafe(name))
    }

    @Test func schemaNameIsSafe() {
        #expect(ArtifactName.isSafe(ArtifactName.schema))
    }
}
