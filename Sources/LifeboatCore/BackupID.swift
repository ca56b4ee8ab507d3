import Foundation

/// Backup ids: the UTC start time as `YYYYMMDDHHMMSS`.
public enum BackupID {
    /// The id for a backup starting at `date`.
    public static func make(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let fields = [(parts.year!, 4), (parts.month!, 2), (parts.day!, 2), (parts.hour!, 2), (parts.minute!, 2),
                      (parts.second!, 2)]
        return fields.map { value, width in
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }.joined()
    }

    /// The UTC time an id names; `nil` when `id` is not a valid time.
    public static func date(of id: String) -> Date? {
        guard isValid(id) else { return nil }
        let digits = Array(id.utf8).map { Int($0) - 48 }
        func number(_ range: Range<Int>) -> Int { digits[range].reduce(0) { $0 * 10 + $1 } }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = DateComponents(
            year: number(0..<4), month: number(4..<6), day: number(6..<8), hour: number(8..<10),
            minute: number(10..<12), second: number(12..<14))
        guard parts.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: parts)
    }

    /// Whether `text` has the shape of a backup id.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 14 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// Which backup a command means: `latest`, an id, or a label (the newest backup carrying it).
public enum BackupSelector: Sendable, Equatable, CustomStringConvertible {
    /// The newest backup that is not a safety backup (``SafetyBackup``); name those by id or label.
    case latest
    case id(String)
    case label(String)

    /// Parses a command-line argument; `nil` means `latest`.
    public init(_ argument: String?) {
        switch argument {
        case nil, "latest": self = .latest
        case let text? where BackupID.isValid(text): self = .id(text)
        case let text?: self = .label(text)
        }
    }

    public var description: String {
        switch self {
        case .latest: "latest"
        case .id(let id): id
        case .label(let label): "label '\(label)'"
        }
    }
}

/// Labels are free text for people, but kept to a safe shape so they read well in listings and paths.
public enum BackupLabel {
    /// Checks a label given on the command line.
    /// - Throws: ``LifeboatError`` with code `configInvalid` naming the rule.
    public static func validate(_ label: String) throws {
        let allowed = label.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-", ".": true
            default: false
            }
        }
        guard allowed, (1...64).contains(label.count), !BackupID.isValid(label), label != "latest" else {
            throw LifeboatError(
                .configInvalid,
                "invalid label '\(label)': use 1-64 letters, digits, '.', '_' or '-', not 'latest' or a 14-digit id")
        }
    }
}
