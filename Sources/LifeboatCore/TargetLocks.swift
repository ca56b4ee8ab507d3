import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeps Lifeboat runs on one machine from trampling a target. Each target has two locks, files in
/// `locks/` of the ``StateFolder``:
///
/// - backups and copies into the target hold its *write* lock alone: two backups never run at once;
/// - restores, verifies and copies out of it share its *read* lock;
/// - prunes hold both alone: a prune never deletes a backup being read, nor runs beside a backup.
///
/// The locks are `flock`s, which the kernel drops when a process dies, so a crashed run never blocks the next.
/// The writer records who it is in the lock file and clears it when done; a record found on taking the lock is
/// a run that died holding it, which ``staleHolders`` reports.
public final class TargetLocks: @unchecked Sendable {
    /// What a run does with its targets.
    public enum Mode: Sendable {
        /// Backup or copy into them.
        case write
        /// Restore, verify or copy out of them.
        case read
        /// Delete backups from them.
        case prune
    }

    /// The lock files this run holds, open.
    private let held: [Int32]
    /// The holder records this run wrote, cleared on release.
    private let records: [Int32]
    /// Runs that died holding a lock this run took: "target 'x': backup by pid N on host, started ...".
    public let staleHolders: [String]
    private let releasing = NSLock()
    // Guarded by `releasing`.
    private var released = false

    /// Takes the locks `mode` needs on every target, or none.
    /// - Parameters:
    ///   - sinks: The targets.
    ///   - operation: What this run does, e.g. `backup`, recorded for whoever finds the lock taken.
    ///   - directory: Where lock files live; `nil` for the default.
    /// - Throws: ``LifeboatError`` with code `targetInUse` naming the run that holds a lock, or `io`.
    public init(sinks: [any Sink], mode: Mode, operation: String, directory: String? = nil) throws {
        let folder = directory ?? StateFolder.path() + "/locks"
        try Self.makeFolder(folder)
        var held: [Int32] = [], records: [Int32] = [], stale: [String] = []
        do {
            var seen: Set<String> = []
            for sink in sinks where seen.insert(Self.key(sink.location)).inserted {  // two targets in one place: one lock
                let base = folder + "/" + Self.key(sink.location)
                switch mode {
                case .read:
                    held.append(try Self.lock(base + ".read", exclusive: false, sink: sink, why: "a prune"))
                case .write, .prune:
                    let writer = try Self.lock(base + ".write", exclusive: true, sink: sink, why: nil)
                    held.append(writer)
                    if mode == .prune {
                        held.append(try Self.lock(base + ".read", exclusive: true, sink: sink, why: "a restore, verify or copy"))
                    }
                    if let previous = Self.readRecord(writer) { stale.append("target '\(sink.name)': \(previous)") }
                    Self.writeRecord(writer, "\(operation) by pid \(getpid()) on \(ProcessInfo.processInfo.hostName), "
                        + "started \(ISO8601DateFormatter().string(from: Date()))")
                    records.append(writer)
                }
            }
        } catch {
            for fd in records { _ = ftruncate(fd, 0) }  // ours, not a crashed run's
            for fd in held { close(fd) }
            throw error
        }
        self.held = held
        self.records = records
        staleHolders = stale
    }

    deinit { release() }

    /// Clears this run's records and drops the locks; later calls do nothing.
    public func release() {
        releasing.lock()
        defer { releasing.unlock() }
        guard !released else { return }
        released = true
        for fd in records { _ = ftruncate(fd, 0) }
        for fd in held { close(fd) }
    }

    /// A file name for a target: a hash of its location (which never holds a secret).
    static func key(_ location: String) -> String {
        SHA256.hash(data: Array(location.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    private static func makeFolder(_ folder: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LifeboatError(
                .io, "cannot create the lock folder \(folder); set LIFEBOAT_STATE_DIR to a writable folder", cause: error)
        }
    }

    /// Opens and locks `path` without waiting.
    private static func lock(_ path: String, exclusive: Bool, sink: any Sink, why: String?) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LifeboatError(
                .io, "cannot open the lock file \(path): \(String(cString: strerror(errno))); set LIFEBOAT_STATE_DIR")
        }
        var result: Int32
        repeat { result = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let holder = readRecord(fd).map { "a \($0)" } ?? why ?? "another Lifeboat run"
            close(fd)
            throw LifeboatError(
                .targetInUse, "target '\(sink.name)' is in use by \(holder); wait for it to finish and try again")
        }
        return fd
    }

    private static func readRecord(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func writeRecord(_ fd: Int32, _ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, bytes, bytes.count, 0)
    }
}
