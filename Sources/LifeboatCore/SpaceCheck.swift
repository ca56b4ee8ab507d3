import Foundation

/// Free space on targets that live on a disk, checked before and after a backup: a warning below each target's
/// `min_free_percent`, and a refusal to start when a target has less room than its previous backup took.
public struct SpaceCheck: Sendable {
    /// One target and its threshold.
    public struct Target: Sendable {
        public var sink: any Sink
        /// Warn below this percentage of free space.
        public var minFreePercent: Int
        /// Whether the backup fails without this target (only then does lack of room refuse the backup).
        public var required: Bool

        /// Creates one.
        public init(sink: any Sink, minFreePercent: Int, required: Bool) {
            self.sink = sink
            self.minFreePercent = minFreePercent
            self.required = required
        }
    }

    /// What a check found.
    public struct Findings: Sendable, Equatable {
        /// Why the backup must not start: a required target cannot fit it.
        public var refusals: [String] = []
        /// Targets low on space, or an optional one that cannot fit the backup.
        public var warnings: [String] = []
    }

    public let targets: [Target]

    /// Creates a check.
    public init(targets: [Target]) {
        self.targets = targets
    }

    /// Before a backup: compares each target's free space with its threshold and with what its newest backup took.
    public func before() async -> Findings {
        var findings = Findings()
        for target in targets {
            guard let space = try? await target.sink.diskSpace() else { continue }
            let name = target.sink.name
            if let last = await Self.lastBackupSize(on: target.sink), space.available < last {
                let message = "target '\(name)' has \(ByteCount.format(space.available)) free, less than its newest backup took "
                    + "(\(ByteCount.format(last))); free some space or prune (lifeboat prune)"
                if target.required { findings.refusals.append(message) } else { findings.warnings.append(message) }
            } else if space.freePercent < Double(target.minFreePercent) {
                findings.warnings.append(Self.low(name, space, target.minFreePercent))
            }
        }
        return findings
    }

    /// After a backup: the targets now below their threshold.
    public func after() async -> [String] {
        var warnings: [String] = []
        for target in targets {
            guard let space = try? await target.sink.diskSpace(), space.freePercent < Double(target.minFreePercent) else {
                continue
            }
            warnings.append(Self.low(target.sink.name, space, target.minFreePercent))
        }
        return warnings
    }

    /// The bytes the target stores for its newest backup; `nil` when it has none or cannot say.
    private static func lastBackupSize(on sink: any Sink) async -> Int? {
        guard let newest = try? await sink.listBackups().max(),
            let manifest = try? await Catalog.manifest(id: newest, on: sink),
            let record = manifest.record(forTarget: sink.name)
        else { return nil }
        return record.storedBytes
    }

    private static func low(_ name: String, _ space: DiskSpace, _ threshold: Int) -> String {
        "target '\(name)' has \(String(format: "%.1f", space.freePercent))% free (\(ByteCount.format(space.available)) of "
            + "\(ByteCount.format(space.total))), below min_free_percent \(threshold)%; free some space or prune"
    }
}
