import Foundation

/// Lifeboat's configuration: one source and the targets backups go to.
public struct LifeboatConfig: Sendable, Equatable {
    /// The database to back up.
    public var source: SourceConfig
    /// Where backups go. Every backup is written to all of them in one pass; reads prefer them in this order.
    public var targets: [TargetConfig]
    /// What the database is, e.g. `production` (`environment:`, else `LIFEBOAT_ENV` or `NODE_ENV`): recorded in
    /// every manifest, and choosing the retention of targets that set none.
    public var environment: String?
    /// Where every operation is recorded (`audit_log:` and `audit_retention:`).
    public var auditLog: AuditLog
    /// How old a target's newest backup may be before `status` fails (`max_backup_age:`, default 26 hours: a
    /// daily backup and some slack).
    public var maxBackupAge: TimeInterval = 26 * 3_600
    /// Shell commands run after each audited operation (`hooks: {on_success: ..., on_failure: ...}`), e.g. a
    /// `curl` to a webhook.
    public var hooks = Hooks()
    /// How long backups, verifications and restores may take (`objectives:`), which `drill` measures.
    public var objectives = RecoveryObjectives()

    /// Creates a configuration.
    public init(
        source: SourceConfig, targets: [TargetConfig], environment: String? = nil,
        auditLog: AuditLog = AuditLog(path: StateFolder.path() + "/audit.jsonl")
    ) {
        self.source = source
        self.targets = targets
        self.environment = environment
        self.auditLog = auditLog
    }

    /// The retention a target follows: its own `retention:`, else its environment's default.
    public func retention(of target: TargetConfig) -> RetentionPolicy {
        target.retention ?? RetentionPolicy.defaultPolicy(environment: environment ?? "")
    }
}

/// Commands run after an operation, with what happened in `LIFEBOAT_*` environment variables.
public struct Hooks: Sendable, Equatable {
    /// Run after an operation succeeded.
    public var onSuccess: String?
    /// Run after an operation failed, or a backup missed an optional target.
    public var onFailure: String?

    /// Creates hooks.
    public init(onSuccess: String? = nil, onFailure: String? = nil) {
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }
}

/// The `source:` section.
public struct SourceConfig: Sendable, Equatable {
    /// The database URL; `nil` when neither the file nor `DATABASE_URL` gives one.
    public var url: String?
    /// How many tables are copied at once.
    public var jobs: Int
    /// The folder holding `pg_dump` and `pg_restore`; `nil` searches `PATH`.
    public var pgBinDir: String?

    /// Creates a source section.
    public init(url: String?, jobs: Int = 2, pgBinDir: String? = nil) {
        self.url = url
        self.jobs = jobs
        self.pgBinDir = pgBinDir
    }

    /// The URL, or an error telling the user how to give one.
    public func requireURL() throws -> String {
        guard let url, !url.isEmpty else {
            throw LifeboatError(
                .configInvalid, "no source database: set DATABASE_URL or source.url in lifeboat.yml")
        }
        return url
    }
}

/// One entry of `targets:`.
public struct TargetConfig: Sendable, Equatable {
    /// The target's name, unique in the file.
    public var name: String
    /// A path, a `file://` URL, or another scheme a plugin registers.
    public var url: String
    /// How artifacts are encoded on this target.
    public var compression: CompressionConfig
    /// Whether a backup fails when this target fails (`required:`, default `true`).
    public var required: Bool
    /// Bytes that may wait for this target per artifact being written (`buffer_mb:`).
    public var bufferBytes: Int
    /// The target's other keys with a scalar value (e.g. an S3 endpoint), `${VAR}`-expanded; its sink checks them.
    public var options: [String: String]
    /// The target's other keys with a list of scalars (e.g. a program's `command:`), `${VAR}`-expanded.
    public var listOptions: [String: [String]]
    /// Which backups the target keeps (`retention:`); `nil` follows the environment's default.
    public var retention: RetentionPolicy?
    /// Below this percentage of free space on its disk, a backup warns (`min_free_percent:`, default 20).
    public var minFreePercent = 20

    /// Creates a target.
    public init(
        name: String, url: String, compression: CompressionConfig = .default, required: Bool = true,
        bufferBytes: Int = BackupTarget.defaultBufferBytes, options: [String: String] = [:],
        listOptions: [String: [String]] = [:], retention: RetentionPolicy? = nil
    ) {
        self.name = name
        self.url = url
        self.compression = compression
        self.required = required
        self.bufferBytes = bufferBytes
        self.options = options
        self.listOptions = listOptions
        self.retention = retention
    }

    /// Throws unless every key in ``options`` and ``listOptions`` is one of `known`, and only keys in `lists` hold
    /// a list, naming the first stranger.
    public func checkOptions(known: Set<String>, lists: Set<String> = []) throws {
        if let unknown = (Array(options.keys) + listOptions.keys).filter({ !known.contains($0) }).sorted().first {
            throw LifeboatError(
                .configInvalid,
                "target '\(name)' has unknown key '\(unknown)'"
                    + (known.isEmpty ? "" : "; known keys there: \(known.sorted().joined(separator: ", "))"))
        }
        if let listed = listOptions.keys.filter({ !lists.contains($0) }).sorted().first {
            throw LifeboatError(.configInvalid, "target '\(name)': \(listed) takes one value, not a list")
        }
    }
}
