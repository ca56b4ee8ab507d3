import Foundation
import LifeboatCore

/// A client program run with its output, input and waiting on a dedicated thread; stderr is kept for messages.
final class ChildProcess: @unchecked Sendable {
    /// What the child reads on stdin.
    enum Input { case none, pipe }

    /// How the child ended.
    struct Status: Sendable {
        let code: Int32
        /// The last lines the child wrote to stderr, folded into one line.
        let errorOutput: String
        var succeeded: Bool { code == 0 }
    }

    private static let chunkSize = 1 << 20
    private let worker = BlockingWorker(name: "lifeboat-child")
    private let process = Process()
    private let output = Pipe()
    private let input: Pipe?
    private let errorFile: URL

    /// Starts `executable`.
    /// - Parameter environment: Variables added to Lifeboat's own environment (e.g. `PGPASSWORD`).
    init(executable: String, arguments: [String], environment: [String: String], input: Input) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        self.input = input == .pipe ? Pipe() : nil
        // A child fed on stdin (pg_restore) writes nothing we read; a full, unread pipe would stall it.
        process.standardOutput = input == .pipe ? FileHandle.nullDevice : output
        process.standardInput = self.input ?? FileHandle.nullDevice
        errorFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("lifeboat-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).err")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let errorHandle = try? FileHandle(forWritingTo: errorFile)
        else {
            throw LifeboatError(.io, "cannot create a temporary file in \(errorFile.deletingLastPathComponent().path)")
        }
        process.standardError = errorHandle
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: errorFile)
            throw LifeboatError(.toolMissing, "cannot start \(executable): \(error.localizedDescription)")
        }
        try? errorHandle.close()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: errorFile)
    }

    /// The next chunk of the child's stdout, or `nil` at its end.
    func readOutput() async throws -> [UInt8]? {
        let handle = output.fileHandleForReading
        return try await worker.run {
            guard let data = try handle.read(upToCount: ChildProcess.chunkSize), !data.isEmpty else { return nil }
            return Array(data)
        }
    }

    /// Writes a chunk to the child's stdin.
    func writeInput(_ chunk: [UInt8]) async throws {
        guard let handle = input?.fileHandleForWriting else { return }
        try await worker.run { try handle.write(contentsOf: chunk) }
    }

    /// Closes the child's stdin, so that it sees the end of its input.
    func closeInput() async {
        guard let handle = input?.fileHandleForWriting else { return }
        _ = try? await worker.run { try handle.close() }
    }

    /// Waits for the child to exit.
    func wait() async throws -> Status {
        let process = self.process
        let errorFile = self.errorFile
        return try await worker.run {
            process.waitUntilExit()
            let text = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            let lines = text.split(whereSeparator: \.isNewline).suffix(3).joined(separator: " ")
            return Status(code: process.terminationStatus, errorOutput: PostgresErrors.oneLine(lines))
        }
    }

    /// Stops the child.
    func terminate() {
        if process.isRunning { process.terminate() }
    }
}
