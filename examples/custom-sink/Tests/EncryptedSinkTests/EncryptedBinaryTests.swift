import Foundation
import Testing

/// The `lifeboat-encrypted` binary backs up a real database through an `encrypted://` target and restores from it
/// alone. Needs `LIFEBOAT_TEST_DATABASE_URL` (Lifeboat's `scripts/test` sets it); under `CI=true` its absence fails.
@Suite struct EncryptedBinaryTests {
    static let environment = ProcessInfo.processInfo.environment
    static let server = environment["LIFEBOAT_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/lifeboat-encrypted").path

    /// Runs a program and returns its exit status and output.
    @discardableResult
    func run(_ program: String, _ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:])
        throws -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.environment = Self.environment.merging(environment) { _, new in new }
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func backsUpAndRestoresThroughAnEncryptedTarget() throws {
        guard let server = Self.server else {
            if Self.environment["CI"] == "true" { Issue.record("CI=true but LIFEBOAT_TEST_DATABASE_URL is not set") }
            return
        }
        let base = server[..<server.lastIndex(of: "/")!]
        let name = "encrypted_\(UUID().uuidString.prefix(8).lowercased())"
        let psql = "/usr/lib/postgresql/15/bin/psql"
        try run(psql, [server, "-qc", "CREATE DATABASE \(name)", "-c", "CREATE DATABASE \(name)_back"])
        defer { _ = try? run(psql, [server, "-qc", "DROP DATABASE \(name)", "-c", "DROP DATABASE \(name)_back"]) }
        try run(psql, ["\(base)/\(name)", "-qc", "CREATE TABLE t AS SELECT g, md5(g::text) AS m FROM generate_series(1, 5000) g"])

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("encrypted-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("offsite.key").path
        try (Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() + "\n")
            .write(toFile: key, atomically: false, encoding: .utf8)
        chmod(key, 0o600)
        try """
            targets:
              - name: offsite
                url: encrypted://
                inner: ./offsite
                key_file: \(key)
            """.write(to: folder.appendingPathComponent("lifeboat.yml"), atomically: false, encoding: .utf8)

        let source = ["DATABASE_URL": "\(base)/\(name)"]
        let backup = try run(Self.binary, ["backup"], in: folder, environment: source)
        #expect(backup.status == 0, "\(backup.output)")
        let verify = try run(Self.binary, ["verify"], in: folder, environment: source)
        #expect(verify.status == 0 && verify.output.contains("is intact"), "\(verify.output)")
        let restore = try run(Self.binary, ["restore", "latest", "--into", "\(base)/\(name)_back"], in: folder)
        #expect(restore.status == 0 && restore.output.contains("row counts match"), "\(restore.output)")
        let count = try run(psql, ["\(base)/\(name)_back", "-tAc", "SELECT count(*) FROM t WHERE m = md5(g::text)"])
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "5000")
    }
}
