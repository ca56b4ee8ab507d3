import Foundation

/// The outcome of a finished program.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String

    /// stdout and stderr together, for checks that no secret appears anywhere.
    var allOutput: String { stdout + stderr }
}

/// Runs programs to completion, capturing their output through files (no pipe can fill up and stall them).
enum Command {
    /// Runs `executable` and waits for it.
    /// - Parameters:
    ///   - environment: Variables set on top of the test's own environment; a `nil` value removes one.
    ///   - directory: The working directory.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], directory: URL? = nil,
        input: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lbcmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let file = scratch.appendingPathComponent("in")
            try input.write(to: file, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: file)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
