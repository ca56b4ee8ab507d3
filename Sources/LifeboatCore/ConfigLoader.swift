import Foundation
import Yams

/// Reads `lifeboat.yml`, expands `${VAR}` references, and rejects anything it does not know.
public struct ConfigLoader: Sendable {
    /// The file read when no `--config` is given, if present.
    public static let defaultPath = "lifeboat.yml"
    /// The target used when the configuration names none.
    public static let defaultTarget = TargetConfig(name: "primary", url: "./backups")
    /// The name of the target `DATABASE_BACKUP_URL` adds.
    public static let replicaName = "replica"

    /// The environment used for `DATABASE_URL` and `${VAR}` expansion.
    public var environment: [String: String]

    /// Creates a loader.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads the configuration.
    /// - Parameter path: `--config`; when `nil`, `./lifeboat.yml` if it exists, else defaults.
    /// - Throws: ``LifeboatError`` with code `configInvalid` naming the file and the problem.
    public func load(path: String?) throws -> LifeboatConfig {
        let file = path ?? (FileManager.default.fileExists(atPath: Self.defaultPath) ? Self.defaultPath : nil)
        guard let file else {
            return withReplica(
                LifeboatConfig(
                    source: SourceConfig(url: environment["DATABASE_URL"]), targets: [Self.defaultTarget],
                    environment: try defaultEnvironment(), auditLog: AuditLog(path: defaultAuditPath)))
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw LifeboatError(.configInvalid, "cannot read config file \(file): check the path and its permissions")
        }
        do {
            return withReplica(try parse(text))
        } catch let error as LifeboatError {
            throw LifeboatError(error.code, "config file \(file): \(error.message)")
        } catch {
            throw LifeboatError(.configInvalid, "config file \(file) is not valid YAML\(Self.position(of: error))")
        }
    }

    /// Adds the `replica` target `DATABASE_BACKUP_URL` names, unless the configuration has a target of that name
    /// (which may use `${DATABASE_BACKUP_URL}` with settings of its own).
    private func withReplica(_ config: LifeboatConfig) -> LifeboatConfig {
        guard let url = environment["DATABASE_BACKUP_URL"], !url.isEmpty,
            !config.targets.contains(where: { $0.name == Self.replicaName })
        else { return config }
        var config = config
        config.targets.append(TargetConfig(name: Self.replicaName, url: url))
        return config
    }

    /// Where a YAML error is, e.g. ` (line 3, column 7: found unexpected end of stream)`. The offending line is
    /// never quoted: it may hold a password.
    private static func position(of error: any Error) -> String {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            " (line \(mark.line), column \(mark.column): \(problem))"
        default: ""
        }
    }

    /// Parses configuration text.
    public func parse(_ text: String) throws -> LifeboatConfig {
        let root = try Yams.load(yaml: text) ?? [String: Any]()
        let top = try mapping(
            root, at: "the top level", keys: [
                "source", "targets", "environment", "audit_log", "audit_retention", "max_backup_age", "hooks", "objectives",
            ])
        let environmentName = try top["environment"].map { try string($0, at: "environment") } ?? defaultEnvironment()
        if let environmentName { try checkName(environmentName, at: "environment") }
        let auditPath = try top["audit_log"].map { try string($0, at: "audit_log") } ?? defaultAuditPath
        let auditRetention = try top["audit_retention"].map { try duration($0, at: "audit_retention") }
        let maxBackupAge = try top["max_backup_age"].map { try duration($0, at: "max_backup_age") }
        let hooks = try top["hooks"].map { value -> Hooks in
            let map = try mapping(value, at: "hooks", keys: ["on_success", "on_failure"])
            return Hooks(
                onSuccess: try map["on_success"].map { try string($0, at: "hooks.on_success") },
                onFailure: try map["on_failure"].map { try string($0, at: "hooks.on_failure") })
        }

        let sourceMap = try top["source"].map { try mapping($0, at: "source", keys: ["url", "jobs", "pg_bin_dir"]) }
        let url = try sourceMap?["url"].map { try string($0, at: "source.url") } ?? environment["DATABASE_URL"]
        let jobs = try sourceMap?["jobs"].map { try integer($0, at: "source.jobs", in: 1...64) } ?? 2
        let binDir = try sourceMap?["pg_bin_dir"].map { try string($0, at: "source.pg_bin_dir") }

        var targets: [TargetConfig] = []
        if let list = top["targets"] {
            guard let entries = list as? [Any], !entries.isEmpty else {
                throw LifeboatError(.configInvalid, "targets must be a non-empty list")
            }
            for (index, entry) in entries.enumerated() {
                let place = "targets[\(index)]"
                guard let map = entry as? [String: Any] else {
                    throw LifeboatError(.configInvalid, "\(place) must be a mapping of keys to values")
                }
                let name = try map["name"].map { try string($0, at: "\(place).name") }
                    ?? (index == 0 ? "primary" : "target\(index + 1)")
                try checkName(name, at: "\(place).name")
                guard !targets.contains(where: { $0.name == name }) else {
                    throw LifeboatError(.configInvalid, "\(place).name '\(name)' is used by another target")
                }
                let url = try map["url"].map { try string($0, at: "\(place).url") } ?? Self.defaultTarget.url
                let compression = try map["compression"].map { try self.compression($0, at: "\(place).compression") }
                let required = try map["required"].map { try boolean($0, at: "\(place).required") } ?? true
                let buffer = try map["buffer_mb"].map { try integer($0, at: "\(place).buffer_mb", in: 1...1024) }
                let retention = try map["retention"].map { try self.retention($0, at: "\(place).retention") }
                let minFree = try map["min_free_percent"].map { try integer($0, at: "\(place).min_free_percent", in: 0...99) }
                var options: [String: String] = [:], listOptions: [String: [String]] = [:]
                for (key, value) in map where !Self.commonTargetKeys.contains(key) {
                    if let list = value as? [Any] {
                        listOptions[key] = try list.enumerated().map { try string($1, at: "\(place).\(key)[\($0)]") }
                    } else {
                        options[key] = try string(value, at: "\(place).\(key)")
                    }
                }
                var target = TargetConfig(
                    name: name, url: url, compression: compression ?? .default, required: required,
                    bufferBytes: buffer.map { $0 << 20 } ?? BackupTarget.defaultBufferBytes, options: options,
                    listOptions: listOptions, retention: retention)
                if let minFree { target.minFreePercent = minFree }
                targets.append(target)
            }
        }
        var config = LifeboatConfig(
            source: SourceConfig(url: url, jobs: jobs, pgBinDir: binDir),
            targets: targets.isEmpty ? [Self.defaultTarget] : targets, environment: environmentName,
            auditLog: AuditLog(path: auditPath, retention: auditRetention ?? AuditLog.defaultRetention))
        if let maxBackupAge { config.maxBackupAge = maxBackupAge }
        if let hooks { config.hooks = hooks }
        if let objectives = top["objectives"] {
            let map = try mapping(objectives, at: "objectives", keys: ["backup", "verify", "restore"])
            for (key, path) in [("backup", \RecoveryObjectives.backup), ("verify", \.verify), ("restore", \.restore)] {
                guard let value = map[key] else { continue }
                guard let seconds = RecoveryObjectives.duration(try string(value, at: "objectives.\(key)")) else {
                    throw LifeboatError(.configInvalid, "objectives.\(key) must be a number and a unit: 90s, 5m or 1h")
                }
                config.objectives[keyPath: path] = seconds
            }
        }
        return config
    }

    /// The keys every target takes; the others belong to its sink.
    private static let commonTargetKeys: Set = [
        "name", "url", "compression", "required", "buffer_mb", "retention", "min_free_percent",
    ]

    /// `12h`, `30d`, `8w` or `1y`, in seconds.
    private func duration(_ value: Any, at place: String) throws -> TimeInterval {
        guard let seconds = RetentionPolicy.duration(try string(value, at: place)) else {
            throw LifeboatError(.configInvalid, "\(place) must be a number and a unit: 12h, 30d, 8w or 1y")
        }
        return seconds
    }

    /// `audit.jsonl` in Lifeboat's state folder.
    private var defaultAuditPath: String { StateFolder.path(environment: environment) + "/audit.jsonl" }

    /// `LIFEBOAT_ENV`, else `NODE_ENV`, else none.
    private func defaultEnvironment() throws -> String? {
        guard let name = [environment["LIFEBOAT_ENV"], environment["NODE_ENV"]].compactMap({ $0 }).first(where: { !$0.isEmpty })
        else { return nil }
        try checkName(name, at: "LIFEBOAT_ENV or NODE_ENV")
        return name
    }

    /// `{keep_last: N, daily: N, weekly: N, monthly: N, yearly: N, max_age: 30d, pin: [pattern, ...]}`.
    private func retention(_ value: Any, at place: String) throws -> RetentionPolicy {
        let map = try mapping(
            value, at: place, keys: ["keep_last", "daily", "weekly", "monthly", "yearly", "max_age", "pin"])
        func count(_ key: String) throws -> Int? {
            try map[key].map { try integer($0, at: "\(place).\(key)", in: 1...100_000) }
        }
        let maxAge = try map["max_age"].map { try duration($0, at: "\(place).max_age") }
        let pin = try map["pin"].map { value -> [String] in
            guard let list = value as? [Any] else { throw LifeboatError(.configInvalid, "\(place).pin must be a list of label patterns") }
            return try list.enumerated().map { try string($1, at: "\(place).pin[\($0)]") }
        }
        return RetentionPolicy(
            keepLast: try count("keep_last"), daily: try count("daily"), weekly: try count("weekly"),
            monthly: try count("monthly"), yearly: try count("yearly"), maxAge: maxAge, pin: pin ?? [])
    }

    /// `zstd`, `none`, or `{codec: zstd, level: 1..19, threads: N}`.
    private func compression(_ value: Any, at place: String) throws -> CompressionConfig {
        if !(value is [String: Any]) {
            return CompressionConfig(codec: try string(value, at: place))
        }
        let map = try mapping(value, at: place, keys: ["codec", "level", "threads"])
        return CompressionConfig(
            codec: try map["codec"].map { try string($0, at: "\(place).codec") } ?? "zstd",
            level: try map["level"].map { try integer($0, at: "\(place).level", in: 1...19) },
            threads: try map["threads"].map { try integer($0, at: "\(place).threads", in: 1...64) })
    }

    private func mapping(_ value: Any, at place: String, keys: Set<String>) throws -> [String: Any] {
        guard let map = value as? [String: Any] else {
            throw LifeboatError(.configInvalid, "\(place) must be a mapping of keys to values")
        }
        if let unknown = map.keys.filter({ !keys.contains($0) }).sorted().first {
            let prefix = place == "the top level" ? "" : "\(place)."
            throw LifeboatError(
                .configInvalid,
                "unknown key '\(prefix)\(unknown)'; known keys there: \(keys.sorted().joined(separator: ", "))")
        }
        return map
    }

    private func string(_ value: Any, at place: String) throws -> String {
        let text: String
        switch value {
        case let value as String: text = value
        case let value as Int: text = String(value)
        case let value as Bool: text = String(value)
        default: throw LifeboatError(.configInvalid, "\(place) must be a string")
        }
        return try expand(text, at: place)
    }

    private func boolean(_ value: Any, at place: String) throws -> Bool {
        if let flag = value as? Bool { return flag }
        switch try string(value, at: place).lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw LifeboatError(.configInvalid, "\(place) must be true or false")
        }
    }

    private func integer(_ value: Any, at place: String, in range: ClosedRange<Int>) throws -> Int {
        let number = try (value as? Int) ?? Int(string(value, at: place))
        guard let number, range.contains(number) else {
            throw LifeboatError(
                .configInvalid, "\(place) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    private func checkName(_ name: String, at place: String) throws {
        let valid = !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }
        guard valid else {
            throw LifeboatError(.configInvalid, "\(place) '\(name)' must be 1-64 letters, digits, '-' or '_'")
        }
    }

    /// Replaces each `${VAR}` with the variable's value; an unset variable is an error naming it.
    func expand(_ text: String, at place: String) throws -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw LifeboatError(.configInvalid, "\(place) has a '${' without a closing '}'")
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = environment[name] else {
                throw LifeboatError(.configInvalid, "\(place) uses ${\(name)}, which is not set in the environment")
            }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
