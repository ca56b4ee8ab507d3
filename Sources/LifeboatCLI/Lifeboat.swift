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
            74 I/O error, 75 restore target not empty, or a target or database in use, 77 authentication failed, 78 bad config, \
            130 interrupted (nothing partial is kept).
            """,
        version: LifeboatVersion.current,
        subcommands: [
            Backup.self, List.self, Verify.self, Restore.self, Rollback.self, Copy.self, Prune.self, Status.self, Log.self,
            Check.self, Drill.self,
        ])

    public init() {}

    /// The plugins the running command uses.
    @TaskLocal static var registry = PluginRegistry()

    /// Runs the command line with `registry`'s plugins: the entry point of `lifeboat` and of custom builds.
    ///
    /// Ctrl-C and SIGTERM cancel the command, so that it cleans up: a backup removes what it wrote, a restore
    /// returns the target database to empty.
    /// - Parameter waitForSignal: Blocks until SIGINT or SIGTERM arrives (`lifeboat_wait_for_termination_signal`
    ///   of the `CLifeboatSignals` target, whose handler is in place before `main` runs); returns a negative
    ///   number when signals cannot be caught.
    public static func run(registry: PluginRegistry, waitForSignal: @escaping @Sendable () -> Int32) async {
        signal(SIGPIPE, SIG_IGN)  // a child that exits early must give an error, not kill us
        signal(SIGCHLD, SIG_DFL)  // inherited as ignored, children would be reaped before we could wait for them
        let command = Task { await $registry.withValue(registry) { await main() } }
        let waiter = Thread {
            var received = 0
            while waitForSignal() >= 0 {
                received += 1
                switch received {
                case 1: command.cancel()
                case 2:
                    let note = "lifeboat: cleaning up so that nothing partial is left; interrupt again to quit at once "
                        + "(then check the targets and the database yourself)\n"
                    FileHandle.standardError.write(Data(note.utf8))
                default: _exit(130)
                }
            }
        }
        waiter.name = "lifeboat-signals"
        waiter.start()
        await command.value
    }
}
