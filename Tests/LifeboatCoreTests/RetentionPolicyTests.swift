import Foundation
import Testing

@testable import LifeboatCore

/// Grandfather-father-son selection on synthetic backup dates.
@Suite struct RetentionPolicyTests {
    /// Backups at `hour`:00 UTC on each day from `first` for `days` days.
    func daily(from first: String, days: Int, hour: Int = 2, label: String? = nil) -> [RetainedBackup] {
        let start = BackupID.date(of: first + "000000")!
        return (0..<days).map { day in
            RetainedBackup(id: BackupID.make(start.addingTimeInterval(Double(day * 86_400 + hour * 3_600))), label: label)
        }
    }

    func kept(_ policy: RetentionPolicy, _ backups: [RetainedBackup], now: String = "20260101000000") -> [String] {
        policy.select(backups, now: BackupID.date(of: now)!).filter(\.keep).map { String($0.backup.id.prefix(8)) }
    }

    @Test func keepLastKeepsTheNewest() {
        let backups = daily(from: "20250101", days: 10).shuffled()
        #expect(kept(RetentionPolicy(keepLast: 3), backups) == ["20250110", "20250109", "20250108"])
    }

    @Test func dailyKeepsTheNewestBackupOfEachDay() {
        let backups = daily(from: "20250101", days: 5) + daily(from: "20250101", days: 5, hour: 14)
        let verdicts = RetentionPolicy(daily: 3).select(backups, now: Date())
        #expect(verdicts.filter(\.keep).map(\.backup.id) == ["20250105140000", "20250104140000", "20250103140000"])
        #expect(verdicts.first?.reasons == ["newest", "daily 2025-01-05"])
        #expect(verdicts.filter { !$0.keep }.allSatisfy { $0.reasons.isEmpty })
    }

    @Test func grandfatherFatherSonOverMoreThanAYear() {
        let backups = daily(from: "20241128", days: 399)  // through 2025-12-31, a Wednesday
        let policy = RetentionPolicy(daily: 7, weekly: 4, monthly: 12, yearly: 1)
        #expect(
            kept(policy, backups) == [
                "20251231", "20251230", "20251229", "20251228", "20251227", "20251226", "20251225",  // daily
                "20251221", "20251214",  // weekly: ISO weeks 51 and 50 (2026-W01 and 2025-W52 are daily already)
                "20251130", "20251031", "20250930", "20250831", "20250731", "20250630", "20250531", "20250430",
                "20250331", "20250228", "20250131",  // monthly; December and the year are the newest already
            ])
    }

    @Test func maxAgeKeepsEverythingYoungerAndNothingOlder() {
        let backups = daily(from: "20251101", days: 61)  // through 2025-12-31
        let policy = RetentionPolicy(maxAge: RetentionPolicy.duration("30d")!)
        let kept = kept(policy, backups, now: "20260101000000")
        #expect(kept.count == 30 && kept.last == "20251202")
    }

    @Test func aTargetKeepsItsNewestBackupWhenBackupsStopped() {
        let backups = daily(from: "20250101", days: 10)
        #expect(kept(RetentionPolicy(maxAge: 7 * 86_400), backups, now: "20250601000000") == ["20250110"])
    }

    @Test func pinnedLabelsAreKept() {
        let backups = daily(from: "20250101", days: 5) + daily(from: "20241201", days: 1, label: "before-migration-42")
            + daily(from: "20241202", days: 1, label: "nightly")
        let verdicts = RetentionPolicy(keepLast: 1, pin: ["before-migration*"]).select(backups, now: Date())
        #expect(verdicts.filter(\.keep).map { String($0.backup.id.prefix(8)) } == ["20250105", "20241201"])
        #expect(verdicts.first { $0.backup.label == "before-migration-42" }?.reasons == ["pinned by 'before-migration*'"])
    }

    @Test func noRuleKeepsEverything() {
        let verdicts = RetentionPolicy(pin: ["x"]).select(daily(from: "20200101", days: 3), now: Date())
        #expect(verdicts.allSatisfy { $0.keep })
        #expect(!RetentionPolicy(pin: ["x"]).prunes)
    }

    @Test func aSafetyBackupIsNotTheNewestThatIsAlwaysKept() {
        let backups = daily(from: "20250101", days: 3)
            + [RetainedBackup(id: "20250104100000", label: "restore_safety_20250104100000")]
        let verdicts = RetentionPolicy(maxAge: 3_600).select(backups, now: BackupID.date(of: "20250201000000")!)
        #expect(verdicts.filter(\.keep).map(\.backup.id) == ["20250103020000"])
    }

    @Test func safetyBackupsTakeNoSlotAndAreKeptAWeek() {
        let nightly = daily(from: "20250101", days: 3)
        let safety = [
            RetainedBackup(id: "20250102150000", label: "restore_safety_20250102150000"),
            RetainedBackup(id: "20241201150000", label: "restore_safety_20241201150000"),
        ]
        let verdicts = RetentionPolicy(keepLast: 1, daily: 3).select(nightly + safety, now: BackupID.date(of: "20250104000000")!)
        #expect(verdicts.filter { $0.keep }.map(\.backup.id) == [
            "20250103020000", "20250102150000", "20250102020000", "20250101020000",
        ])
        #expect(verdicts.first { $0.backup.id == "20250102150000" }?.reasons == ["safety backup younger than 7d"])
    }

    @Test func environmentsHaveTheRunbooksDefaults() {
        #expect(RetentionPolicy.defaultPolicy(environment: "production").maxAge == 2_592_000.0)
        #expect(RetentionPolicy.defaultPolicy(environment: "staging").maxAge == 604_800.0)
        #expect(RetentionPolicy.defaultPolicy(environment: "archive").maxAge == 31_536_000.0)
        #expect(!RetentionPolicy.defaultPolicy(environment: "development").prunes)
    }

    @Test func durationsAndPatterns() {
        #expect(RetentionPolicy.duration("12h") == 43_200)
        #expect(RetentionPolicy.duration("2w") == 1_209_600.0)
        #expect(RetentionPolicy.duration("1y") == 31_536_000.0)
        for bad in ["", "d", "0d", "-1d", "3m", "1.5d", "9999999999999y"] { #expect(RetentionPolicy.duration(bad) == nil, "\(bad)") }
        #expect(RetentionPolicy.matches("before-migration-7", "before-*"))
        #expect(RetentionPolicy.matches("v1.2", "v?.?"))
        #expect(RetentionPolicy.matches("abc", "*"))
        #expect(!RetentionPolicy.matches("nightly", "before-*"))
        #expect(!RetentionPolicy.matches("before", "before?"))
        #expect(BackupID.date(of: "20250230000000") == nil)
    }
}
