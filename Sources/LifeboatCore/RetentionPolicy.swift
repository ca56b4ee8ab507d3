import Foundation

/// Which backups a target keeps (`retention:`), grandfather-father-son. A backup is kept when any rule keeps it:
///
/// - `keep_last: N` keeps the N newest backups;
/// - `daily`, `weekly`, `monthly`, `yearly: N` keep the newest backup of each of the N newest days (ISO weeks,
///   months, years, in UTC) that have one;
/// - `max_age: 30d` keeps every backup younger than that (`h`, `d`, `w` or `y`);
/// - `pin: [before-migration*]` keeps every backup whose label matches one of these patterns (`*` and `?`).
///
/// The counting rules (`keep_last` and the calendar ones) count regular backups only. A restore's safety backup
/// (`restore_safety_...`, possibly of another database) takes no slot; it is kept while younger than `max_age`, or
/// than ``safetyBackupAge`` without one, or when pinned. A policy with no rule keeps everything. Whatever the
/// rules, ``select(_:now:)`` keeps a target's newest regular backup, so that a target never loses its last good
/// copy because backups stopped for a while.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepLast: Int?
    public var daily: Int?
    public var weekly: Int?
    public var monthly: Int?
    public var yearly: Int?
    /// In seconds.
    public var maxAge: TimeInterval?
    /// Label patterns of backups that are never pruned.
    public var pin: [String]

    /// Creates a policy.
    public init(
        keepLast: Int? = nil, daily: Int? = nil, weekly: Int? = nil, monthly: Int? = nil, yearly: Int? = nil,
        maxAge: TimeInterval? = nil, pin: [String] = []
    ) {
        self.keepLast = keepLast
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.maxAge = maxAge
        self.pin = pin
    }

    /// How long a safety backup is kept when the policy has no `max_age`: a week, time enough to roll back.
    public static let safetyBackupAge: TimeInterval = 7 * 86_400

    /// Whether the policy has a rule that can let a backup go.
    public var prunes: Bool {
        [keepLast, daily, weekly, monthly, yearly].contains { $0 != nil } || maxAge != nil
    }

    /// The default of an environment (`environment:` in the configuration): production keeps 30 days, staging 7,
    /// archive a year; others keep everything.
    public static func defaultPolicy(environment: String) -> RetentionPolicy {
        switch environment {
        case "production": RetentionPolicy(maxAge: 30 * 86_400)
        case "staging": RetentionPolicy(maxAge: 7 * 86_400)
        case "archive": RetentionPolicy(maxAge: 365 * 86_400)
        default: RetentionPolicy()
        }
    }

    /// Parses `30d`, `12h`, `2w` or `1y` into seconds.
    public static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let count = Int(text.dropLast()), (1...100_000).contains(count) else { return nil }
        let seconds: Int? =
            switch unit {
            case "h": 3_600
            case "d": 86_400
            case "w": 7 * 86_400
            case "y": 365 * 86_400
            default: nil
            }
        return seconds.map { TimeInterval(count * $0) }
    }

    /// Decides, for each backup on one target, whether it stays and why.
    /// - Parameters:
    ///   - backups: The target's complete backups, in any order.
    ///   - now: The time ages are measured from.
    /// - Returns: One verdict per backup, newest first.
    public func select(_ backups: [RetainedBackup], now: Date) -> [RetentionVerdict] {
        let newestFirst = backups.sorted { $0.id > $1.id }
        var reasons = [[String]](repeating: [], count: newestFirst.count)
        guard prunes else {
            return newestFirst.map { RetentionVerdict(backup: $0, keep: true, reasons: ["no retention rule"]) }
        }
        let regular = newestFirst.indices.filter { !newestFirst[$0].isSafetyBackup }
        if let newest = regular.first { reasons[newest].append("newest") }
        for index in regular.prefix(keepLast ?? 0) { reasons[index].append("last \(keepLast!)") }
        let buckets: [(String, Int?, String)] = [
            ("daily", daily, "yyyy-MM-dd"), ("weekly", weekly, "YYYY-'W'ww"), ("monthly", monthly, "yyyy-MM"),
            ("yearly", yearly, "yyyy"),
        ]
        for (name, count, format) in buckets {
            guard let count else { continue }
            let formatter = Self.formatter(format)
            var seen: [String] = []
            for index in regular {
                let bucket = formatter.string(from: newestFirst[index].date)
                guard seen.last != bucket, seen.count < count else { continue }
                seen.append(bucket)
                reasons[index].append("\(name) \(bucket)")
            }
        }
        for (index, backup) in newestFirst.enumerated() {
            if let maxAge, now.timeIntervalSince(backup.date) < maxAge { reasons[index].append("younger than max_age") }
            if backup.isSafetyBackup, maxAge == nil, now.timeIntervalSince(backup.date) < Self.safetyBackupAge {
                reasons[index].append("safety backup younger than 7d")
            }
            if let label = backup.label, let pattern = pin.first(where: { Self.matches(label, $0) }) {
                reasons[index].append("pinned by '\(pattern)'")
            }
        }
        return newestFirst.enumerated().map { index, backup in
            RetentionVerdict(backup: backup, keep: !reasons[index].isEmpty, reasons: reasons[index])
        }
    }

    /// Whether `text` matches a pattern where `*` is any run of characters and `?` any one.
    static func matches(_ text: String, _ pattern: String) -> Bool {
        let text = Array(text), pattern = Array(pattern)
        var t = 0, p = 0, star = -1, resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                resume = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    private static func formatter(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        formatter.calendar = calendar
        formatter.dateFormat = format
        return formatter
    }
}

/// A complete backup as retention sees it.
public struct RetainedBackup: Sendable, Equatable {
    /// Its id, `YYYYMMDDHHMMSS` in UTC.
    public var id: String
    /// Its label, if any.
    public var label: String?

    /// Creates one.
    public init(id: String, label: String?) {
        self.id = id
        self.label = label
    }

    /// When it was taken, from its id.
    public var date: Date { BackupID.date(of: id) ?? .distantPast }

    /// Whether it is the safety backup a restore took (`restore_safety_<id>`).
    public var isSafetyBackup: Bool { label?.hasPrefix(SafetyBackup.labelPrefix) == true }
}

/// Whether retention keeps a backup, and the rules that do.
public struct RetentionVerdict: Sendable, Equatable {
    public var backup: RetainedBackup
    public var keep: Bool
    /// The rules that keep it, e.g. `daily 2025-01-03`; empty when it goes.
    public var reasons: [String]
}
