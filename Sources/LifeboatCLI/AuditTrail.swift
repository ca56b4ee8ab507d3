import ArgumentParser
import Foundation
import LifeboatCore

/// What one operation did, filled in by its command and written to the audit log (and to its targets) when it
/// ends, whether it succeeded or not.
final class AuditTrail {
    /// `backup`, `restore`, ...
    let operation: String
    /// The backup concerned, once known.
    var backupID: String?
    var label: String?
    /// The targets used, which also keep a copy of the entry.
    var sinks: [any Sink] = []
    var checksums: AuditEntry.Checksums?
    /// The backups a prune deleted, as `target:id`.
    var deleted: [String]?

    init(operation: String) {
        self.operation = operation
    }

    /// Records the backup a manifest describes, and a summary of its checksums.
    func record(_ manifest: Manifest) {
        backupID = manifest.id
        label = manifest.label
        checksums = AuditEntry.Checksums(manifest)
    }
}

extension GlobalOptions {
    /// Runs a command body that changes or checks backups, and appends what it did to the audit log: status
    /// `success`, `partial` (exit code 3) or `failed` with the error. A log that cannot be written is a warning.
    func perform(audit operation: String, _ body: (LifeboatConfig, AuditTrail) async throws -> Void) async throws {
        try await perform {
            let config = try loadConfig()
            let trail = AuditTrail(operation: operation)
            let started = Date()
            do {
                try await body(config, trail)
                await write(trail, config, started: started, status: "success", error: nil)
            } catch let exit as ExitCode where exit.rawValue == ExitCodes.incomplete {
                await write(trail, config, started: started, status: "partial", error: "an optional target failed")
                throw exit
            } catch {
                let message =
                    (error as? LifeboatError)?.message ?? (error is CancellationError ? "interrupted" : "unexpected error")
                await write(trail, config, started: started, status: "failed", error: message)
                throw error
            }
        }
    }

    private func write(_ trail: AuditTrail, _ config: LifeboatConfig, started: Date, status: String, error: String?) async {
        let entry = AuditEntry(
            time: Date(), operator: operatorName ?? Self.osUser(), host: ProcessInfo.processInfo.hostName,
            operation: trail.operation, backupID: trail.backupID, label: trail.label, environment: config.environment,
            targets: trail.sinks.map(\.name), status: status,
            durationSeconds: (Date().timeIntervalSince(started) * 1000).rounded() / 1000, checksums: trail.checksums,
            deleted: trail.deleted, error: error)
        do {
            try config.auditLog.append(entry)
        } catch {
            logger.warning("the audit log was not written: \((error as? LifeboatError)?.message ?? "\(error)")")
        }
        guard let line = try? entry.line() else { return }
        await runHook(status == "success" ? config.hooks.onSuccess : config.hooks.onFailure, entry, line: line)
        for sink in trail.sinks {
            // Not cancelled with the command: an interrupted operation is recorded too.
            let result = await Task { try await sink.recordAudit(line) }.result
            if case .failure(let error) = result {
                // After a failed operation the target is likely why; its error was printed already.
                logger.log(
                    level: status == "failed" ? .info : .warning,
                    "target '\(sink.name)' did not keep the audit entry: \((error as? LifeboatError)?.message ?? "\(error)")")
            }
        }
    }

    /// Variables a hook never sees: the credentials Lifeboat itself uses.
    static let secretVariables: Set = [
        "DATABASE_URL", "DATABASE_BACKUP_URL", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    ]

    /// Runs a hook command with `/bin/sh -c`, the entry in `LIFEBOAT_*` variables and without ``secretVariables``,
    /// for at most a minute (then `SIGTERM`, and `SIGKILL` five seconds later). A failing hook is a warning: it
    /// never changes the operation's outcome.
    private func runHook(_ command: String?, _ entry: AuditEntry, line: [UInt8]) async {
        guard let command else { return }
        let environment = [
            "LIFEBOAT_OPERATION": entry.operation, "LIFEBOAT_STATUS": entry.status,
            "LIFEBOAT_BACKUP_ID": entry.backupID ?? "", "LIFEBOAT_LABEL": entry.label ?? "",
            "LIFEBOAT_TARGETS": entry.targets.joined(separator: ","), "LIFEBOAT_ERROR": entry.error ?? "",
            "LIFEBOAT_ENVIRONMENT": entry.environment ?? "",
            "LIFEBOAT_AUDIT_LINE": String(decoding: line.dropLast(), as: UTF8.self),
        ]
        // Not cancelled with the command: an interrupted operation is reported too.
        let outcome = await Task { () -> ChildProcess.Status? in
            guard let hook = try? ChildProcess(
                executable: "/bin/sh", arguments: ["-c", command], environment: environment, output: .discard,
                ownProcessGroup: true, unsetting: Self.secretVariables)
            else { return nil }
            let deadline = Task {
                try await Task.sleep(for: .seconds(60))
                hook.terminate()
                try await Task.sleep(for: .seconds(5))
                hook.terminate(force: true)
            }
            defer { deadline.cancel() }
            return await hook.wait()
        }.value
        guard let outcome, outcome.succeeded else {
            let detail = outcome.map { "exit code \($0.code)\($0.errorOutput.isEmpty ? "" : ": \($0.errorOutput)")" } ?? "cannot start /bin/sh"
            logger.warning("the \(entry.status == "success" ? "on_success" : "on_failure") hook failed (\(detail))")
            return
        }
    }

    /// The name of the OS user running Lifeboat.
    private static func osUser() -> String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
    }
}
