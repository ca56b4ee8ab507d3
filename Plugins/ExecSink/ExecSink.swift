import Foundation
import LifeboatCore

/// Stores backups through a program the operator provides (`exec:///path/to/program`, or `exec://` with
/// `command: [program, args...]`), speaking the Lifeboat exec protocol: one run of the program per operation,
/// artifacts streamed over its stdin and stdout. With it, a short shell or Python script adds rclone, a tape robot
/// or an SFTP host. The protocol is in `docs/plugins.md`.
///
/// The target's other scalar keys reach the program as `LIFEBOAT_OPTION_<KEY>` variables (never as arguments, which
/// other users can see), and `timeout_seconds` bounds every operation that moves no artifact (default 300).
public struct ExecSink: Sink {
    public let name: String
    let program: ExecProgram

    /// Creates a sink for an `exec://` target.
    /// - Throws: ``LifeboatError`` with code `configInvalid` when the program is not given or not executable.
    public init(target: TargetConfig) throws {
        name = target.name
        try target.checkOptions(known: Set(target.options.keys).union(["command"]), lists: ["command"])
        guard target.options["command"] == nil else {
            throw LifeboatError(.configInvalid, "target '\(name)': command must be a list, e.g. [python3, /opt/sink.py]")
        }
        let command = try Self.command(of: target)
        var environment = [
            "LIFEBOAT_PROTOCOL": String(ExecProgram.protocolVersion), "LIFEBOAT_TARGET": target.name,
        ]
        var secrets: [String] = []
        var timeout = 300
        for (key, value) in target.options {
            if key == "timeout_seconds" {
                guard let seconds = Int(value), (1...86_400).contains(seconds) else {
                    throw LifeboatError(
                        .configInvalid, "target '\(name)': timeout_seconds must be a whole number from 1 to 86400")
                }
                timeout = seconds
                continue
            }
            guard !key.isEmpty, key.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            else {
                throw LifeboatError(
                    .configInvalid,
                    "target '\(name)': key '\(key)' cannot be passed to its program; use lowercase letters, digits and _")
            }
            environment["LIFEBOAT_OPTION_" + key.uppercased()] = value
            if Self.looksSecret(key) && !value.isEmpty { secrets.append(value) }
        }
        program = ExecProgram(
            target: name, command: command, environment: environment, secrets: secrets, timeout: .seconds(timeout))
    }

    /// `exec://` followed by the program's path and arguments (which hold no secret: settings go in variables).
    public var location: String { "exec://" + program.command.joined(separator: " ") }

    public func beginBackup(id: String) async throws -> (any BackupWriter)? {
        switch try await program.call("begin", [id]) {
        case .done: ExecBackupWriter(program: program, id: id)
        case .absent: nil
        }
    }

    public func listBackups() async throws -> [String] {
        guard case .done(let output) = try await program.call("list") else {
            throw program.violation("list", "exited with code \(ExecProgram.absentExitCode)")
        }
        let ids = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
        return Array(Set(ids.filter(BackupID.isValid)))
    }

    public func readManifest(backupID: String) async throws -> [UInt8] {
        guard BackupID.isValid(backupID), case .done(let manifest) = try await program.call("manifest", [backupID]) else {
            throw LifeboatError(.backupNotFound, "backup \(backupID) has no manifest in target '\(name)' (\(location))")
        }
        return manifest
    }

    public func openArtifact(backupID: String, name artifact: String) async throws -> any ArtifactReader {
        try ArtifactName.checkReadable(backupID: backupID, name: artifact)
        try await program.handshake.check(program)
        guard let reader = try await ExecArtifactReader.open(program, backupID: backupID, name: artifact) else {
            throw LifeboatError(
                .artifactMissing, "artifact \(artifact) of backup \(backupID) is missing from target '\(name)'")
        }
        return reader
    }

    public func deleteBackup(id: String) async throws {
        guard BackupID.isValid(id), case .done = try await program.call("delete", [id]) else {
            throw LifeboatError(.backupNotFound, "backup \(id) is not in target '\(name)' (\(location))")
        }
    }

    /// The program's path, made absolute, and its fixed arguments.
    private static func command(of target: TargetConfig) throws -> [String] {
        let given = target.url.dropFirst("exec://".count)
        var command: [String]
        switch (given.isEmpty, target.listOptions["command"]) {
        case (false, nil) where given.hasPrefix("/"): command = [given.removingPercentEncoding ?? String(given)]
        case (true, let list?) where !list.isEmpty && !list[0].isEmpty: command = list
        default:
            throw LifeboatError(
                .configInvalid,
                "target '\(target.name)' needs its program either in the URL (exec:///path/to/program) or as "
                    + "command: [program, args...] with url: exec://, not both")
        }
        command[0] = try executablePath(command[0], target: target.name)
        return command
    }

    /// `program` as an absolute path: searched in `PATH` when it has no `/`, else taken from the current folder.
    private static func executablePath(_ program: String, target: String) throws -> String {
        let candidates =
            program.contains("/")
            ? [program.hasPrefix("/") ? program : FileManager.default.currentDirectoryPath + "/" + program]
            : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/\(program)" }
        var isFolder: ObjCBool = false
        for path in candidates
        where FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
            && access(path, X_OK) == 0
        {
            return URL(fileURLWithPath: path).standardizedFileURL.path
        }
        throw LifeboatError(
            .configInvalid,
            "target '\(target)': program \(program) is not an executable file\(program.contains("/") ? "" : " in PATH"); "
                + "check the path and chmod +x")
    }

    /// Whether an option's value must be kept out of messages.
    private static func looksSecret(_ key: String) -> Bool {
        ["secret", "password", "passwd", "token", "key", "credential"].contains { key.contains($0) }
    }
}

/// Writes one backup through the program; the manifest goes last.
struct ExecBackupWriter: BackupWriter {
    let program: ExecProgram
    let id: String

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        precondition(ArtifactName.isSafe(name), "unsafe artifact name \(name)")
        return try ExecArtifactWriter(program: program, backupID: id, name: name)
    }

    func commit(manifest: [UInt8]) async throws {
        let reply = try await program.call("commit", [id], input: manifest, limit: ExecArtifactWriter.replyLimit)
        guard case .done(let output) = reply else {
            throw program.violation("commit", "exited with code \(ExecProgram.absentExitCode)")
        }
        var sent = StreamDigest()
        sent.update(manifest)
        try program.checkStored("commit", reply: output, name: "the manifest", sent: sent)
    }

    /// Asks the program to remove the backup, manifest first. Not cancelled with the run: an abort is what a
    /// cancelled run does last.
    func abort() async {
        let program = self.program, id = self.id
        _ = try? await Task { try await program.call("abort", [id]) }.value
    }
}
