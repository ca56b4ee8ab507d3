import Foundation

/// How long each step of a recovery may take (`objectives:`); the defaults are the runbook's: a backup within 5
/// minutes, a verification within 2, a restore within 30.
public struct RecoveryObjectives: Sendable, Equatable {
    public var backup: TimeInterval = 5 * 60
    public var verify: TimeInterval = 2 * 60
    public var restore: TimeInterval = 30 * 60

    /// The runbook's objectives.
    public init() {}

    /// Parses `90s`, `5m` or `1h` into seconds.
    public static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let count = Int(text.dropLast()), (1...1_000_000).contains(count) else { return nil }
        switch unit {
        case "s": return TimeInterval(count)
        case "m": return TimeInterval(count * 60)
        case "h": return TimeInterval(count * 3_600)
        default: return nil
        }
    }
}

/// What a restore drill measured.
public struct DrillReport: Sendable {
    /// The backup restored, and the row counts found.
    public var restore: RestoreReport
    /// Seconds to check every artifact's checksum.
    public var verifySeconds: Double
    /// Seconds to restore into the scratch database, row counts checked, the checksums checked again on the way.
    public var restoreSeconds: Double
    /// The scratch database, for messages (dropped when the drill ends).
    public var scratch: String
}

extension RestoreEngine {
    /// Restores a backup into a throwaway database beside the destination, checks its row counts, times each
    /// step, and drops the database again, whatever happened.
    /// - Throws: ``LifeboatError`` when the backup cannot be found, verified or restored.
    public func drill(_ selector: BackupSelector) async throws -> DrillReport {
        guard let base = destination as? any ReplaceableDestination else {
            throw LifeboatError(.configInvalid, "\(destination.location) cannot hold a throwaway database for a drill")
        }
        let backup = try await Catalog(sinks: sinks, logger: logger).resolve(selector)
        var clock = Date()
        let (store, fallbacks) = try await verify(backup)
        let verifySeconds = Date().timeIntervalSince(clock)
        let scratch = try await base.makeScratch(logger: logger)
        logger.notice("drill: restoring backup \(backup.manifest.id) into the throwaway database \(scratch.location)")
        do {
            clock = Date()
            let report = try await load(backup.manifest, from: store, into: scratch, fallbacks: fallbacks)
            let restoreSeconds = Date().timeIntervalSince(clock)
            await scratch.discard()
            return DrillReport(
                restore: report, verifySeconds: verifySeconds, restoreSeconds: restoreSeconds, scratch: scratch.location)
        } catch {
            await scratch.discard()
            throw error
        }
    }
}
