import Logging

/// The backups stored on a set of targets, merged: which backups exist, and which targets hold each.
///
/// A backup is on a target when the target lists it, that is when its manifest was committed there. A target
/// that cannot be read is reported as a warning while the others answer, and is an error only when it is the
/// only one.
public struct Catalog: Sendable {
    /// The targets to read, in preference order (configuration order).
    public let sinks: [any Sink]
    /// Where warnings about unreadable targets go.
    public let logger: Logger

    /// Creates a catalog of `sinks`.
    public init(sinks: [any Sink], logger: Logger) {
        precondition(!sinks.isEmpty, "a catalog needs a target")
        self.sinks = sinks
        self.logger = logger
    }

    /// Every backup complete on at least one target, oldest first. A backup whose manifest cannot be read on any
    /// target is left out with a warning.
    /// - Throws: ``LifeboatError`` when no target can be read.
    public func entries() async throws -> [CatalogEntry] {
        try await entries(in: listAll())
    }

    private func entries(in listings: Listings) async -> [CatalogEntry] {
        var entries: [CatalogEntry] = []
        for id in Set(listings.flatMap(\.ids)).sorted() {
            guard let manifest = await manifest(of: id, in: listings) else { continue }
            entries.append(
                CatalogEntry(manifest: manifest, holders: listings.filter { $0.ids.contains(id) }.map(\.sink.name)))
        }
        return entries
    }

    /// Finds the backup a selector means and every target's copy of it.
    /// - Throws: ``LifeboatError`` with code `backupNotFound`, saying what to do.
    public func resolve(_ selector: BackupSelector) async throws -> ResolvedBackup {
        let listings = try await listAll()
        // `latest` and labels mean the newest backup that can be read, when any target stores artifacts.
        let readable = listings.storingArtifacts.readable.isEmpty ? listings : listings.storingArtifacts
        let id: String
        switch selector {
        case .id(let wanted):
            guard listings.contains(where: { $0.ids.contains(wanted) }) else { throw notFound(selector) }
            id = wanted
        case .latest:
            guard let newest = await newestRegularBackup(readable) else { throw notFound(selector) }
            id = newest
        case .label(let label):
            guard let match = await entries(in: readable).last(where: { $0.manifest.label == label }) else {
                throw notFound(selector)
            }
            id = match.manifest.id
        }
        var copies: [BackupCopy] = []
        var manifest: Manifest?
        var problems = listings.problems
        let databases = listings.filter { $0.ids.contains(id) && $0.sink is any DatabaseTarget }.map(\.sink.name)
        for listing in listings where listing.ids.contains(id) && !(listing.sink is any DatabaseTarget) {
            do {
                let own = try await Self.manifest(id: id, on: listing.sink)
                guard let record = own.record(forTarget: listing.sink.name) else {
                    throw LifeboatError(
                        .checksumMismatch,
                        "the manifest of backup \(id) on target '\(listing.sink.name)' does not say how that target "
                            + "stored it (it lists \(own.targets.map(\.name).joined(separator: ", ")))")
                }
                if let manifest, own.artifacts != manifest.artifacts || own.source != manifest.source {
                    throw LifeboatError(
                        .checksumMismatch,
                        "target '\(listing.sink.name)' holds another backup under id \(id) than target "
                            + "'\(copies[0].sink.name)' (a different source or snapshot)")
                }
                manifest = manifest ?? own
                copies.append(BackupCopy(sink: listing.sink, record: record))
            } catch {
                let problem = Self.lifeboatError(error)
                problems[listing.sink.name] = problem
                logger.warning("target '\(listing.sink.name)' skipped for backup \(id): \(problem.message)")
            }
        }
        guard let manifest else {
            if let problem = problems.values.first { throw problem }
            guard let database = databases.first else { throw notFound(selector) }
            throw LifeboatError(
                .artifactMissing,
                "backup \(id) is held only by database target \(databases.map { "'\($0)'" }.joined(separator: ", ")), "
                    + "which keeps it as a live database, not as artifacts; restore from it with --from \(database)")
        }
        return ResolvedBackup(manifest: manifest, copies: copies, problems: problems)
    }

    /// The newest backup that is not a safety backup: `latest` never means the state a restore replaced.
    private func newestRegularBackup(_ listings: Listings) async -> String? {
        for id in Set(listings.flatMap(\.ids)).sorted(by: >) {
            guard let manifest = await manifest(of: id, in: listings) else { continue }
            if manifest.label?.hasPrefix(SafetyBackup.labelPrefix) != true { return id }
        }
        return nil
    }

    /// The manifest of one backup on one target.
    public static func manifest(id: String, on sink: any Sink) async throws -> Manifest {
        let bytes = try await sink.readManifest(backupID: id)
        let manifest = try Manifest.decode(bytes, from: "the manifest of backup \(id) on target '\(sink.name)'")
        guard manifest.id == id else {
            throw LifeboatError(
                .checksumMismatch,
                "the manifest in backup folder \(id) on target '\(sink.name)' names backup \(manifest.id); "
                    + "the folder was renamed or damaged, use another backup")
        }
        return manifest
    }

    /// The first readable manifest of `id` among the targets listing it; `nil`, with warnings, when none can be read.
    private func manifest(of id: String, in listings: Listings) async -> Manifest? {
        for sink in listings.filter({ $0.ids.contains(id) }).map(\.sink) {
            do { return try await Self.manifest(id: id, on: sink) } catch {
                logger.warning("\(Self.lifeboatError(error).message); backup \(id) is left out on this target")
            }
        }
        return nil
    }

    /// One target's answer to `listBackups()`.
    private struct SinkListing: Sendable {
        let index: Int
        let result: Result<[String], any Error>

        init(index: Int, sink: any Sink) async {
            self.index = index
            do { result = .success(try await sink.listBackups()) } catch { result = .failure(error) }
        }
    }

    private struct Listing {
        var sink: any Sink
        var ids: Set<String>
    }

    /// What every readable target lists, and why the others could not be read.
    private struct Listings: Sequence {
        var readable: [Listing]
        var problems: [String: LifeboatError]

        func makeIterator() -> IndexingIterator<[Listing]> { readable.makeIterator() }

        /// The listings of targets that store artifacts (not databases).
        var storingArtifacts: Listings {
            Listings(readable: readable.filter { !($0.sink is any DatabaseTarget) }, problems: problems)
        }
    }

    /// Lists every target concurrently; unreadable ones become warnings unless none can be read.
    private func listAll() async throws -> Listings {
        let results = await withTaskGroup(of: SinkListing.self) { group in
            for index in sinks.indices {
                let sink = sinks[index]
                group.addTask { await SinkListing(index: index, sink: sink) }
            }
            var collected = [SinkListing?](repeating: nil, count: sinks.count)
            while let listing = await group.next() { collected[listing.index] = listing }
            return collected.map { $0!.result }
        }
        var listings = Listings(readable: [], problems: [:])
        for (sink, result) in zip(sinks, results) {
            switch result {
            case .success(let ids): listings.readable.append(Listing(sink: sink, ids: Set(ids)))
            case .failure(let error):
                let problem = Self.lifeboatError(error)
                listings.problems[sink.name] = problem
                logger.warning("target '\(sink.name)' cannot be read and is left out: \(problem.message)")
            }
        }
        if listings.readable.isEmpty, let problem = listings.problems[sinks[0].name] { throw problem }
        return listings
    }

    private func notFound(_ selector: BackupSelector) -> LifeboatError {
        let places = sinks.map { "'\($0.name)' (\($0.location))" }.joined(separator: ", ")
        return LifeboatError(
            .backupNotFound,
            "no complete backup matches \(selector) on target\(sinks.count == 1 ? "" : "s") \(places); "
                + "run 'lifeboat list' to see the backups")
    }

    private static func lifeboatError(_ error: any Error) -> LifeboatError {
        error as? LifeboatError ?? LifeboatError(.io, "\(error)", cause: error)
    }
}

/// One backup and the targets that hold it complete.
public struct CatalogEntry: Sendable {
    /// The backup's manifest, as read from the first target holding it.
    public var manifest: Manifest
    /// The targets whose listing includes it, in preference order.
    public var holders: [String]
}

/// A backup found by a selector, with every copy of it that could be opened.
public struct ResolvedBackup: Sendable {
    /// The manifest (from the first copy).
    public var manifest: Manifest
    /// The copies, in preference order; never empty.
    public var copies: [BackupCopy]
    /// Targets that could not be listed, or whose copy could not be used, by name.
    public var problems: [String: LifeboatError]
}

/// One target's copy of a backup: the sink, and the manifest's record of how that target stored the artifacts.
public struct BackupCopy: Sendable {
    /// The target.
    public var sink: any Sink
    /// How it stored each artifact.
    public var record: TargetRecord

    /// Creates a copy.
    public init(sink: any Sink, record: TargetRecord) {
        self.sink = sink
        self.record = record
    }
}
