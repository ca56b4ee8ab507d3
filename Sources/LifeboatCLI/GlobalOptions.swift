import ArgumentParser
import Foundation
import LifeboatCore
import Logging

/// Options every command takes, and the shared work of turning them into configured plugins.
struct GlobalOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The config file (default: ./lifeboat.yml if present).")
    var config: String?

    @Option(help: "Log detail on stderr: trace, debug, info (progress), notice (summaries), warning, error.")
    var logLevel: Logger.Level = .notice

    @Option(name: .customLong("operator"), help: "Who runs this, for the audit log (default: the OS user).")
    var operatorName: String?

    /// A logger writing to stderr at the chosen level.
    var logger: Logger {
        var logger = Logger(label: "lifeboat") { _ in LineLogHandler() }
        logger.logLevel = logLevel
        return logger
    }

    /// The loaded configuration.
    func loadConfig() throws -> LifeboatConfig {
        try ConfigLoader().load(path: config)
    }

    /// The sinks to read backups from: only the one `from` names, or every configured target in configuration
    /// order, leaving out with a warning any that cannot be set up (e.g. missing credentials) while others can.
    func sinks(_ config: LifeboatConfig, from: String? = nil) throws -> [any Sink] {
        if let from { return [try Lifeboat.registry.makeSink(try config.target(named: from))] }
        var sinks: [any Sink] = []
        var firstError: (any Error)?
        for target in config.targets {
            do { sinks.append(try Lifeboat.registry.makeSink(target)) } catch {
                firstError = firstError ?? error
                logger.warning("target '\(target.name)' is left out: \((error as? LifeboatError)?.message ?? "\(error)")")
            }
        }
        if sinks.isEmpty, let firstError { throw firstError }
        return sinks
    }

    /// Takes the locks `mode` needs on `sinks` (see ``TargetLocks``), warning about runs that died holding them.
    /// The caller releases them when done.
    func lock(_ sinks: [any Sink], _ mode: TargetLocks.Mode, for operation: String) throws -> TargetLocks {
        let locks = try TargetLocks(sinks: sinks, mode: mode, operation: operation)
        for holder in locks.staleHolders {
            logger.warning(
                "\(holder) ended without releasing its lock: it crashed or was killed. What it left unfinished is not listed as a backup; run 'lifeboat list' and 'lifeboat verify' to check")
        }
        return locks
    }

    /// Runs a command body; a failure becomes one line on stderr and its exit code, never a stack trace.
    func perform(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as LifeboatError {
            throw fail(error)
        } catch let exit as ExitCode {
            throw exit
        } catch is CancellationError {
            throw fail(LifeboatError(.interrupted, "interrupted before anything was written"))  // engines report later ones
        } catch {
            throw fail(LifeboatError(.internalError, "unexpected error: \(error); please report it"))
        }
    }

    private func fail(_ error: LifeboatError) -> ExitCode {
        let line = error.message.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("lifeboat: error: \(line)\n".utf8))
        if let cause = error.cause { logger.debug("cause: \(String(describing: cause))") }
        return ExitCode(ExitCodes.code(for: error.code))
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension LifeboatConfig {
    /// The target called `name`.
    /// - Throws: ``LifeboatError`` naming the configured targets when there is none of that name.
    func target(named name: String) throws -> TargetConfig {
        guard let target = targets.first(where: { $0.name == name }) else {
            throw LifeboatError(
                .configInvalid,
                "no target is named '\(name)'; configured: \(targets.map(\.name).joined(separator: ", "))")
        }
        return target
    }
}

/// The process exit code of each kind of failure (sysexits.h where one fits).
enum ExitCodes {
    /// A backup complete on every required target, but some optional target failed.
    static let incomplete: Int32 = 3

    static func code(for code: LifeboatError.Code) -> Int32 {
        switch code {
        case .checksumMismatch: 65
        case .backupNotFound, .artifactMissing: 66
        case .sourceUnreachable, .databaseMissing: 69
        case .internalError: 70
        case .toolMissing: 72
        case .targetUnwritable: 73
        case .io: 74
        case .targetNotEmpty, .targetInUse: 75
        case .authenticationFailed: 77
        case .configInvalid: 78
        case .interrupted: 130
        default: 1
        }
    }
}
