import Foundation

/// One line of the audit log: who did what to which backup, when, how long it took and how it ended.
public struct AuditEntry: Codable, Sendable, Equatable {
    /// When the operation ended.
    public var time: Date
    /// The OS user, or `--operator`.
    public var `operator`: String
    /// The machine it ran on.
    public var host: String
    /// `backup`, `restore`, `rollback`, `copy`, `verify` or `prune`.
    public var operation: String
    /// The backup it concerned, when there is one.
    public var backupID: String?
    /// That backup's label.
    public var label: String?
    /// The configuration's environment.
    public var environment: String?
    /// The targets it used, by name.
    public var targets: [String]
    /// `success`, `partial` (a backup an optional target missed) or `failed`.
    public var status: String
    /// Wall time in seconds.
    public var durationSeconds: Double
    /// How many artifacts' checksums the operation wrote or checked, and one digest that covers them all.
    public var checksums: Checksums?
    /// The backups a prune deleted, as `target:id`.
    public var deleted: [String]?
    /// What went wrong, in one line without secrets.
    public var error: String?
    /// The Lifeboat version.
    public var tool: String

    /// The checksums an operation wrote or checked.
    public struct Checksums: Codable, Sendable, Equatable {
        /// How many artifacts.
        public var artifacts: Int
        /// SHA-256 over each artifact's `raw_sha256 name` line, in manifest order: one value that is the same for
        /// every copy of a backup, and changes if any artifact does.
        public var digest: String

        /// The summary of a backup's checksums.
        public init(_ manifest: Manifest) {
            var digest = StreamDigest()
            for artifact in manifest.artifacts { digest.update(Array("\(artifact.rawSha256) \(artifact.name)\n".utf8)) }
            self.artifacts = manifest.artifacts.count
            self.digest = digest.hexDigest()
        }

        private enum CodingKeys: String, CodingKey { case artifacts, digest }
    }

    private enum CodingKeys: String, CodingKey {
        case time, `operator`, host, operation, label, environment, targets, status, checksums, deleted, error, tool
        case backupID = "backup_id", durationSeconds = "duration_seconds"
    }

    /// Creates an entry.
    public init(
        time: Date, operator: String, host: String, operation: String, backupID: String?, label: String?,
        environment: String?, targets: [String], status: String, durationSeconds: Double, checksums: Checksums?,
        deleted: [String]? = nil, error: String?
    ) {
        self.time = time
        self.operator = `operator`
        self.host = host
        self.operation = operation
        self.backupID = backupID
        self.label = label
        self.environment = environment
        self.targets = targets
        self.status = status
        self.durationSeconds = durationSeconds
        self.checksums = checksums
        self.deleted = deleted
        self.error = error
        self.tool = "lifeboat " + LifeboatVersion.current
    }

    /// The entry as one JSON line, with a newline.
    public func line() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Self.timeStyle))
        }
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    /// UTC, to the millisecond: `2025-01-03T14:31:03.250Z`.
    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Reads a line; `nil` when it is not an entry.
    public static func parse(_ line: Substring) -> AuditEntry? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = (try? Date(text, strategy: Self.timeStyle)) ?? (try? Date(text, strategy: .iso8601)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad time"))
            }
            return date
        }
        return try? decoder.decode(AuditEntry.self, from: Data(line.utf8))
    }
}

/// The audit log file: one JSON line per operation, appended and fsynced, kept for `retention`.
public struct AuditLog: Sendable, Equatable {
    /// The file.
    public let path: String
    /// How long entries are kept (`audit_retention:`, default three years).
    public let retention: TimeInterval

    /// Three years.
    public static let defaultRetention: TimeInterval = 3 * 365 * 86_400

    /// Creates a log; nothing is touched until an entry is appended.
    public init(path: String, retention: TimeInterval = Self.defaultRetention) {
        self.path = path
        self.retention = retention
    }

    /// Appends an entry: created 0600 (with its folder, 0700) when missing, written with `O_APPEND` and fsynced.
    /// - Throws: ``LifeboatError`` with code `io`.
    public func append(_ entry: AuditEntry) throws {
        let line = try entry.line()
        try Self.locked(path) { try Self.append(line, to: path) }
    }

    /// Appends a line to a log file the same way: created 0600 with its folder, `O_APPEND`, fsynced. For sinks
    /// that keep the audit trail in a local file.
    /// - Throws: ``LifeboatError`` with code `io`.
    public static func append(_ line: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else { throw failure("write", path) }
    }

    /// Every entry, oldest first; lines that are not entries are skipped.
    public func entries() throws -> [AuditEntry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else { throw Self.failure("read", path) }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap(AuditEntry.parse)
    }

    /// Drops entries older than ``retention``, rewriting the file atomically.
    /// - Returns: How many entries were dropped.
    public func trim(now: Date = Date()) throws -> Int {
        try Self.locked(path) { try trimUnlocked(now: now) }
    }

    private func trimUnlocked(now: Date) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let kept = lines.filter { line in
            guard let entry = AuditEntry.parse(line) else { return true }
            return now.timeIntervalSince(entry.time) <= retention
        }
        guard kept.count < lines.count else { return 0 }
        let temporary = path + ".trim-\(getpid())"
        unlink(temporary)
        do {
            try Self.append(Array(kept.map { $0 + "\n" }.joined().utf8), to: temporary)  // written 0600 and fsynced
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Self.failure("rewrite", path)
        }
        let folder = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
        return lines.count - kept.count
    }

    /// Runs `body` holding `<path>.lock`, so that appends of concurrent runs and a trim never lose each other's
    /// lines (a trim replaces the file).
    private static func locked<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("lock", path) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw failure("lock", path) }
        }
        return try body()
    }

    private static func failure(_ what: String, _ path: String) -> LifeboatError {
        LifeboatError(
            .io, "cannot \(what) the audit log \(path): \(String(cString: strerror(errno))); check audit_log: and its folder")
    }
}
