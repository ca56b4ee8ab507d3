import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into an empty database, over a live one (--clean), or some tables of it.",
            discussion: """
                Verifies every artifact first, then loads schema, data, sequences, large objects, and finally \
                indexes, constraints and triggers; then compares every table's row count with the manifest. \
                A failed restore returns an empty target database to empty. The backup is read from the first \
                target holding it; an artifact missing or corrupt there is read from the next one, and the \
                restore says so.

                --clean replaces a database that has contents: after a safety backup of it, the backup is \
                restored into a staging database that is swapped in only when complete, so a failure leaves the \
                database as it was. --table and --schema replace the rows of some tables (and their sequences) \
                in one transaction, after a safety backup.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        @OptionGroup var target: RestoreTargetOptions

        @Flag(help: "Replace the contents of a database that is not empty.")
        var clean = false

        @Option(name: .customLong("table"), help: "Restore only this table's rows, as schema.name (repeatable).")
        var tables: [String] = []

        @Option(name: .customLong("schema"), help: "Restore only the rows of this schema's tables (repeatable).")
        var schemas: [String] = []

        func validate() throws {
            try target.validate()
            if clean && !(tables.isEmpty && schemas.isEmpty) {
                throw ValidationError("--clean replaces everything, --table and --schema only some tables: pick one")
            }
            if !clean && target.force { throw ValidationError("--force only applies to --clean") }
            if !clean && tables.isEmpty && schemas.isEmpty && target.noSafetyBackup {
                throw ValidationError("--no-safety-backup only applies to --clean, --table and --schema")
            }
            _ = try tableNames()
        }

        private func tableNames() throws -> Set<TableName> {
            Set(try tables.map { text in
                guard let dot = text.firstIndex(of: "."), dot != text.startIndex, dot != text.index(before: text.endIndex)
                else { throw ValidationError("--table \(text): give the table as schema.name, e.g. public.orders") }
                return TableName(schema: String(text[..<dot]), name: String(text[text.index(after: dot)...]))
            })
        }

        func run() async throws {
            try await global.perform(audit: "restore") { config, trail in
                let started = Date()
                var selector = BackupSelector(backup)
                let dump = try await target.dumpIfDatabase(config, selector, global: global)
                defer { dump?.remove() }
                if let dump {
                    selector = .id(dump.dump.id)
                    print("dumped target '\(target.from ?? "")', which holds backup \(dump.held.id), as \(dump.dump.id)")
                }
                let session = try target.session(
                    config, global: global, trail: trail, for: "restore", sinks: dump.map { [$0.sink] })
                defer { session.end() }
                let engine = session.engine
                guard clean || !tables.isEmpty || !schemas.isEmpty else {
                    let report = try await engine.run(selector)
                    trail.record(report.manifest)
                    RestoreOutput.print(report, into: engine.destination.location, started: started)
                    return
                }
                let safety = target.noSafetyBackup ? nil : try await config.safetyBackup(of: target.into, global: global)
                defer { safety?.lock?.release() }
                let report = clean
                    ? try await engine.replace(selector, safety: safety, force: target.force)
                    : try await engine.restoreTables(
                        selector, tables: try tableNames(), schemas: Set(schemas), safety: safety)
                trail.record(report.restore.manifest)
                RestoreOutput.print(report, into: engine.destination.location, started: started)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo the last restore over a database: restore its latest safety backup, with --clean.",
            discussion: """
                Finds the newest backup labelled restore_safety_... of the database --into names (same server \
                host and port, as written in the URL), and restores it the way restore --clean does, taking a \
                safety backup of the current state first.
                """)

        @OptionGroup var global: GlobalOptions

        @OptionGroup var target: RestoreTargetOptions

        func validate() throws { try target.validate() }

        func run() async throws {
            try await global.perform(audit: "rollback") { config, trail in
                let session = try target.session(config, global: global, trail: trail, for: "rollback")
                defer { session.end() }
                let engine = session.engine
                guard let destination = engine.destination as? any ReplaceableDestination else {
                    throw LifeboatError(.configInvalid, "\(engine.destination.location) cannot be rolled back")
                }
                let entries = try await Catalog(sinks: engine.sinks, logger: global.logger).entries()
                guard let latest = entries.last(where: {
                    $0.manifest.label?.hasPrefix(SafetyBackup.labelPrefix) == true
                        && $0.manifest.source.database == destination.databaseName
                        && $0.manifest.source.server == destination.serverAddress
                }) else {
                    throw LifeboatError(
                        .backupNotFound,
                        "no safety backup of database \(destination.databaseName) on \(destination.serverAddress) "
                            + "exists; restore --clean takes one before it replaces a database")
                }
                let started = Date()
                let safety = target.noSafetyBackup ? nil : try await config.safetyBackup(of: target.into, global: global)
                defer { safety?.lock?.release() }
                let report = try await engine.replace(.id(latest.manifest.id), safety: safety, force: target.force)
                trail.record(report.restore.manifest)
                RestoreOutput.print(report, into: destination.location, started: started)
            }
        }
    }
}

/// The options of `restore` and `rollback` that say where and how to restore.
struct RestoreTargetOptions: ParsableArguments {
    @Option(help: "The database to restore into, e.g. postgresql://user@host/app.")
    var into: String

    @Option(help: "Read the backup only from this target.")
    var from: String?

    @Option(help: "Tables loaded at once (default: source.jobs).")
    var jobs: Int?

    @Flag(help: "Do not restore ownership and privileges (for a server without the original roles).")
    var noOwner = false

    @Flag(help: "Skip the safety backup of the database being replaced.")
    var noSafetyBackup = false

    @Flag(help: "Terminate other sessions connected to the database being replaced (and say so).")
    var force = false

    func validate() throws {
        if let jobs, !(1...64).contains(jobs) { throw ValidationError("--jobs must be from 1 to 64") }
    }

    /// When `--from` names a database target, a fresh dump of the copy it holds of the backup `selector` means,
    /// for the restore to read instead; `nil` otherwise.
    func dumpIfDatabase(_ config: LifeboatConfig, _ selector: BackupSelector, global: GlobalOptions) async throws
        -> DatabaseTargetDump?
    {
        guard let from, let database = try Lifeboat.registry.makeSink(try config.target(named: from)) as? any DatabaseTarget
        else { return nil }
        return try await DatabaseTargetDump.take(of: database, selector, config: config, global: global)
    }

    /// A restore engine reading `sinks`, or else the configured targets (or `--from`), and writing `--into`, with
    /// progress shown and the targets' read locks held until ``RestoreSession/end()``; the audit trail records the
    /// targets.
    func session(
        _ config: LifeboatConfig, global: GlobalOptions, trail: AuditTrail, for operation: String,
        sinks: [any Sink]? = nil
    ) throws -> RestoreSession {
        let destination = try Lifeboat.registry.makeDestination(
            into,
            options: DestinationOptions(jobs: jobs ?? config.source.jobs, toolDirectory: config.source.pgBinDir, noOwner: noOwner))
        let display = ProgressDisplay(logger: global.logger)
        var engine = RestoreEngine(
            sinks: try sinks ?? global.sinks(config, from: from), destination: destination, registry: Lifeboat.registry,
            logger: global.logger)
        engine.progress = display.meter
        trail.sinks = engine.sinks
        let locks: TargetLocks
        do {
            locks = try global.lock(engine.sinks, .read, for: operation)
        } catch {
            display.stop()
            throw error
        }
        return RestoreSession(engine: engine, display: display, locks: locks)
    }
}

/// A restore engine with what it holds while it runs: its progress display and the targets' read locks.
struct RestoreSession {
    let engine: RestoreEngine
    let display: ProgressDisplay
    let locks: TargetLocks

    /// Stops the display and releases the locks.
    func end() {
        display.stop()
        locks.release()
    }
}

/// What `restore` and `rollback` print on stdout.
enum RestoreOutput {
    static func print(_ report: RestoreReport, into location: String, started: Date) {
        let rows = report.tables.map { [$0.table.description, String($0.expected), String($0.restored), "ok"] }
        Swift.print(TextTable.render(header: ["TABLE", "EXPECTED", "RESTORED", "STATUS"], rows: rows), terminator: "")
        for fallback in report.fallbacks {
            Swift.print("artifact \(fallback.artifact) was read from target '\(fallback.usedTarget)': "
                + "missing or corrupt on target '\(fallback.failedTarget)'")
        }
        Swift.print(String(format: "restored backup %@ into %@ in %.1fs: %d tables, row counts match",
            report.manifest.id, location, Date().timeIntervalSince(started), report.tables.count))
    }

    static func print(_ report: ReplaceReport, into location: String, started: Date) {
        for warning in report.warnings {
            FileHandle.standardError.write(Data("lifeboat: warning: \(warning)\n".utf8))
        }
        if let id = report.safetyBackupID {
            Swift.print("safety backup \(id) holds what \(location) held before; undo with: lifeboat rollback --into URL")
        }
        if report.terminatedSessions > 0 {
            Swift.print("terminated \(report.terminatedSessions) other session\(report.terminatedSessions == 1 ? "" : "s") of \(location)")
        }
        print(report.restore, into: location, started: started)
    }
}
