import ArgumentParser
import Foundation
import LifeboatCore

/// The `lifeboat` command.
public struct Lifeboat: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lifeboat",
        abstract: "Consistent PostgreSQL backups, verified and restorable.",
        discussion: """
            Without a config file, DATABASE_URL is the source and ./backups the target. \
            Exit codes: 0 success, 1 failed, 3 backup complete but an optional target failed, 64 usage, 65 checksum mismatch, 66 backup not found, \
            69 server unreachable or database missing, 72 pg_dump/pg_restore missing, 73 target not writable, \
            74 I/O error, 75 restore target not empty or in use, 77 authentication failed, 78 bad config, \
            130 interrupted (nothing partial is kept).
            """,
        version: LifeboatVersion.current,
        subcommands: [Backup.self, List.self, Verify.self, Restore.self, Rollback.self, Copy.self])

    public init() {}

    /// The plugins the running command uses.
    @TaskLocal static var registry = PluginRegistry()

    /// Runs the command line with `registry`'s plugins: the entry point of `lifeboat` and of custom builds.
    public static func run(registry: PluginRegistry) async {
        signal(SIGPIPE, SIG_IGN)  // a child that exits early must give an error, not kill us
        signal(SIGCHLD, SIG_DFL)  // inherited as ignored, children would be reaped before we could wait for them
        let command = Task { await $registry.withValue(registry) { await main() } }
        // Ctrl-C and SIGTERM cancel the command, so that it cleans up: a backup removes its partial folder, a
        // restore returns the target database to empty.
        let handlers = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { command.cancel() }
            source.resume()
            return source
        }
        await command.value
        handlers.forEach { $0.cancel() }
    }
}
