import Foundation
import LifeboatCore

/// Checks that a ``Sink`` honours the contract Lifeboat relies on, whatever test framework runs them.
///
/// Each check gets a fresh, empty sink from `makeSink`, aborts every backup it began when it ends (so a run leaves
/// nothing behind), and throws ``ConformanceFailure`` saying what broke:
///
/// ```swift
/// @Test(arguments: SinkConformance.checks)
/// func conformance(check: SinkConformance.Check) async throws {
///     try await SinkConformance { try MySink(target: TargetConfig(name: "t", url: freshURL())) }.run(check)
/// }
/// ```
public struct SinkConformance: Sendable {
    /// One check of the contract.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case roundTripsEmptySmallAndLargeArtifacts
        case backupIsInvisibleUntilItsManifestIsCommitted
        case anIdIsReservedOnce
        case abortRemovesTheBackupEvenAfterCommit
        case anAbortedArtifactIsNeverVisible
        case missingThingsAreTheRightErrors
        case concurrentArtifactsDoNotMix
        case oddTableNamesRoundTrip
        case wrongBytesAreCaughtOnRead
        case listsEveryCompleteBackupAndNothingElse
        case deleteRemovesOnlyACompleteBackup

        public var description: String { rawValue }
    }

    /// Every check.
    public static let checks = Check.allCases

    /// Makes a fresh, empty sink for each check.
    public let makeSink: @Sendable () async throws -> any Sink

    /// Creates a conformance run.
    public init(makeSink: @escaping @Sendable () async throws -> any Sink) {
        self.makeSink = makeSink
    }

    /// Runs every check, stopping at the first failure.
    public func runAll() async throws {
        for check in Self.checks { try await run(check) }
    }

    /// Runs one check.
    /// - Throws: ``ConformanceFailure`` naming the check and what the sink did wrong, or the sink's own error.
    public func run(_ check: Check) async throws {
        let sink = try await makeSink()
        let probe = Probe(sink: sink, check: check)
        do {
            try await run(check, on: probe)
        } catch {
            await probe.begun.abortAll()
            throw error
        }
        await probe.begun.abortAll()
    }

    private func run(_ check: Check, on probe: Probe) async throws {
        switch check {
        case .roundTripsEmptySmallAndLargeArtifacts: try await probe.roundTrips()
        case .backupIsInvisibleUntilItsManifestIsCommitted: try await probe.commitIsLast()
        case .anIdIsReservedOnce: try await probe.idsAreReservedOnce()
        case .abortRemovesTheBackupEvenAfterCommit: try await probe.abortRemoves()
        case .anAbortedArtifactIsNeverVisible: try await probe.abortedArtifactIsInvisible()
        case .missingThingsAreTheRightErrors: try await probe.missingThings()
        case .concurrentArtifactsDoNotMix: try await probe.concurrentArtifacts()
        case .oddTableNamesRoundTrip: try await probe.oddNames()
        case .wrongBytesAreCaughtOnRead: try await probe.wrongBytesAreCaught()
        case .listsEveryCompleteBackupAndNothingElse: try await probe.listing()
        case .deleteRemovesOnlyACompleteBackup: try await probe.deletion()
        }
    }
}

/// What a sink did against the contract.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// The check that failed.
    public var check: SinkConformance.Check
    /// What went wrong.
    public var message: String

    public var description: String { "\(check): \(message)" }
}
