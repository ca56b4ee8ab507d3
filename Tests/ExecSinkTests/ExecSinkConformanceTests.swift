import Foundation
import LifeboatCore
import LifeboatExecSink
import LifeboatSinkTests
import Testing

/// The example programs in `examples/exec-sinks/` pass the sink conformance kit through the exec sink, each check
/// in a fresh folder.
@Suite struct ExecSinkConformanceTests {
    @Test(arguments: SinkConformance.checks)
    func rcloneSink(check: SinkConformance.Check) async throws {
        try Examples.requireRclone()
        let folder = Examples.freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await SinkConformance {
            try ExecSink(
                target: TargetConfig(
                    name: "rclone", url: "exec://" + Examples.program("rclone-sink.sh"), options: ["remote": folder.path]))
        }.run(check)
    }

    @Test(arguments: SinkConformance.checks)
    func dedupSink(check: SinkConformance.Check) async throws {
        let folder = Examples.freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await SinkConformance {
            try ExecSink(
                target: TargetConfig(
                    name: "dedup", url: "exec://" + Examples.program("dedup-sink.py"), options: ["path": folder.path]))
        }.run(check)
    }
}

/// The example programs and what they need.
enum Examples {
    /// The absolute path of `examples/exec-sinks/<name>`.
    static func program(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/exec-sinks/\(name)").path
    }

    static func freshFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("exec-sink-\(UUID().uuidString)")
    }

    /// Writes `text` to a new executable file. The file is open close-on-exec, so that no program another test
    /// starts meanwhile keeps it open for writing: exec would then fail with "Text file busy" for as long as that
    /// program runs.
    static func writeExecutable(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw SetupFailure(message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw SetupFailure(message: "cannot write \(path)")
        }
    }

    /// Throws unless rclone is installed (`scripts/setup` installs it).
    static func requireRclone() throws {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        guard paths.contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/rclone") }) else {
            throw SetupFailure(message: "rclone is not installed; run scripts/setup")
        }
    }

    struct SetupFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
