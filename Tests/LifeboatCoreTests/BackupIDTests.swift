import Foundation
import LifeboatCore
import Testing

@Suite struct BackupIDTests {
    @Test func idIsTheUTCStartTime() {
        #expect(BackupID.make(Date(timeIntervalSince1970: 1_735_914_622)) == "20250103143022")
        #expect(BackupID.make(Date(timeIntervalSince1970: 0)) == "19700101000000")
    }

    @Test func selectorsParse() {
        #expect(BackupSelector(nil) == .latest)
        #expect(BackupSelector("latest") == .latest)
        #expect(BackupSelector("20250103143022") == .id("20250103143022"))
        #expect(BackupSelector("before-migration") == .label("before-migration"))
        #expect(BackupSelector("2025") == .label("2025"))
    }

    @Test func labelsAreChecked() throws {
        try BackupLabel.validate("before-migration")
        try BackupLabel.validate("v1.2_rc")
        for bad in ["", "latest", "20250103143022", "../x", "a b", String(repeating: "x", count: 65)] {
            #expect(throws: LifeboatError.self) { try BackupLabel.validate(bad) }
        }
    }
}
