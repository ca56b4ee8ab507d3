import Foundation
import LifeboatCore

/// Finds PostgreSQL's client programs (`pg_dump`, `pg_restore`) and checks their versions.
struct ClientTools: Sendable {
    /// The folder to look in; `nil` searches `PATH`.
    let directory: String?

    /// The path and major version of `program`, which must be at least `minimumMajor`.
    /// - Parameter requiredBy: What sets the minimum, for the message.
    /// - Throws: ``LifeboatError`` with code `toolMissing` when it is absent or too old.
    func locate(_ program: String, minimumMajor: Int, requiredBy: String = "the server")
        async throws -> (path: String, major: Int)
    {
        guard let path = find(program) else {
            let place = directory.map { "in \($0) (source.pg_bin_dir)" } ?? "in PATH"
            throw LifeboatError(
                .toolMissing,
                "\(program) not found \(place); install the PostgreSQL \(minimumMajor) client tools "
                    + "(apt-get install postgresql-client-\(minimumMajor)) or set source.pg_bin_dir")
        }
        let major = try await majorVersion(of: path)
        guard major >= minimumMajor else {
            throw LifeboatError(
                .toolMissing,
                "\(path) is version \(major), older than \(requiredBy) (\(minimumMajor)); install "
                    + "postgresql-client-\(minimumMajor) or newer, or point source.pg_bin_dir at it")
        }
        return (path, major)
    }

    private func find(_ program: String) -> String? {
        let folders = directory.map { [$0] }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return folders.map { $0 + "/" + program }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Parses `pg_dump (PostgreSQL) 15.18 (Debian ...)` into 15.
    private func majorVersion(of path: String) async throws -> Int {
        let process = try ChildProcess(executable: path, arguments: ["--version"])
        var output: [UInt8] = []
        while let chunk = try await process.readOutput() { output += chunk }
        let status = await process.wait()
        let text = String(decoding: output, as: UTF8.self)
        guard status.succeeded,
            let range = text.range(of: #"\) [0-9]+"#, options: .regularExpression),
            let major = Int(text[range].dropFirst(2))
        else {
            throw LifeboatError(.toolMissing, "\(path) --version did not report a PostgreSQL version; reinstall it")
        }
        return major
    }
}
