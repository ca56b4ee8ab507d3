import Foundation
import LifeboatCore
import Testing

/// `scripts/bench` at a tiny size: every case runs and gets its numbers, so the script cannot rot between the
/// runs that publish results.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct BenchmarkScriptTests {
    @Test func everyCaseIsMeasuredAndCompared() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("results").path
        // ChildProcess, not Foundation's Process: the servers the script starts must get signals to stop.
        let bench = try ChildProcess(
            executable: TestEnvironment.packageRoot.appendingPathComponent("scripts/bench").path,
            arguments: ["--size-mb", "5", "--runs", "1", "--lifeboat", try TestEnvironment.lifeboatBinary(), "--out", out],
            output: .discard)
        let status = await bench.wait()
        #expect(status.succeeded, "\(status.errorOutput)")

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + ".json")))
        let results = try #require((json as? [String: Any])?["results"] as? [String: [String: Any]])
        let compared = ["lifeboat_local", "lifeboat_local_local", "lifeboat_local_s3", "lifeboat_local_s3_vs_one",
                        "lifeboat_local_replica", "lifeboat_restore", "lifeboat_restore_vs_psql"]
        for key in compared + ["read", "pg_dump_zstd", "pg_dump_fc", "pg_dump_fd", "pg_dump_zstd_s3", "pg_dump_replica",
                               "psql_restore", "pg_restore_j"] {
            let result = try #require(results[key], "missing case \(key)")
            #expect((result["wall"] as? Double ?? 0) > 0, "\(key)")
            #expect((result["peak_rss_mb"] as? Double ?? 0) > 0, "\(key)")
            if compared.contains(key) { #expect((result["ratio"] as? Double ?? 0) > 0, "\(key) has no ratio") }
        }
        let table = try String(contentsOfFile: out + ".md", encoding: .utf8)
        #expect(table.contains("| lifeboat backup, local + S3 |"))
    }
}
