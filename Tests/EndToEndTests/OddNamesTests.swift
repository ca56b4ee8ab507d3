import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct OddNamesTests {
    static let names = [
        "../x", "a/b", "../../../../tmp/escape", "..", ".", "with space", "日本語テーブル", "tab\there",
        String(repeating: "n", count: 63), String(repeating: "n", count: 62) + "m", "UPPER", "upper", "semi;colon",
        "quote\"d", "back\\slash", "new\nline", "*", "a.b",
    ]

    @Test func tableNamesNeverEscapeOrCollide() throws {
        let source = try TestDatabase.create("odd_src")
        let sql = Self.names.enumerated().map { index, name in
            let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            return "CREATE TABLE \(quoted) (v int); INSERT INTO \(quoted) SELECT generate_series(1, \(index + 1));"
        }.joined(separator: "\n")
        try source.execute("CREATE SCHEMA \"../evil\";\nCREATE TABLE \"../evil\".\"../x\" (v int);\n" + sql)

        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()

        let folder = lifeboat.backups.appendingPathComponent(id).resolvingSymlinksInPath().path
        let outside = try FileManager.default.contentsOfDirectory(atPath: lifeboat.folder.path)
        #expect(Set(outside) == ["backups", "state"], "nothing but the lock files may be beside the target: \(outside)")
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder)
        let dataFiles = files.filter { $0.hasPrefix("data/") && $0 != "data" }
        #expect(dataFiles.count == Self.names.count + 1)
        #expect(Set(dataFiles).count == dataFiles.count)
        for file in files {
            let resolved = URL(fileURLWithPath: folder + "/" + file).resolvingSymlinksInPath().path
            #expect(resolved.hasPrefix(folder + "/"))
            #expect(!file.contains(".."))
        }

        let target = try TestDatabase.create("odd_dst")
        let restore = try lifeboat.run(["restore", "--into", target.url])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try target.dump() == source.dump())
    }
}
