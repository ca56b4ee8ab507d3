#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, durable POSIX file operations for the local sink. Folders are 0700 and files 0600.
enum FileSystem {
    /// A failed system call, with its errno.
    struct Failure: Error, CustomStringConvertible {
        let operation: String
        let path: String
        let errno: Int32

        /// The system's words for the error, e.g. "Permission denied".
        var reason: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
        var description: String { reason }
    }

    /// An open file descriptor, closed at most once.
    final class File: @unchecked Sendable {
        private var descriptor: Int32
        private let path: String

        /// Creates a new file that must not exist yet.
        init(creating path: String) throws {
            descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            self.path = path
            guard descriptor >= 0 else { throw Failure(operation: "create", path: path, errno: errno) }
        }

        /// Opens an existing file for reading.
        init(reading path: String) throws {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            self.path = path
            guard descriptor >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        }

        deinit { close() }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw Failure(operation: "write", path: path, errno: errno)
                    }
                    offset += written
                }
            }
        }

        /// Up to `count` bytes; empty at the end of the file.
        func read(upTo count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            var filled = 0
            while filled < count {
                let got = bytes.withUnsafeMutableBytes { buffer in
                    Glibc.read(descriptor, buffer.baseAddress! + filled, count - filled)
                }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw Failure(operation: "read", path: path, errno: errno)
                }
                if got == 0 { break }
                filled += got
            }
            bytes.removeLast(count - filled)
            return bytes
        }

        func sync() throws {
            guard fsync(descriptor) == 0 else { throw Failure(operation: "fsync", path: path, errno: errno) }
        }

        func close() {
            if descriptor >= 0 { _ = Glibc.close(descriptor) }
            descriptor = -1
        }
    }

    /// Creates a folder. Returns `false` when it already exists.
    static func makeDirectory(_ path: String) throws -> Bool {
        if mkdir(path, 0o700) == 0 { return true }
        if errno == EEXIST, isDirectory(path) { return false }
        throw Failure(operation: "mkdir", path: path, errno: errno == EEXIST ? ENOTDIR : errno)
    }

    /// Creates a folder and any missing parents, each 0700.
    static func makeDirectories(_ path: String) throws {
        guard !isDirectory(path) else { return }
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { try makeDirectories("/" + parent) }
        _ = try makeDirectory(path)
        try syncDirectory(parent.isEmpty ? "/" : "/" + parent)  // the new folder's entry survives a power loss
    }

    static func isDirectory(_ path: String) -> Bool { kind(path) == S_IFDIR }
    static func isRegularFile(_ path: String) -> Bool { kind(path) == S_IFREG }

    private static func kind(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw Failure(operation: "rename", path: from, errno: errno) }
    }

    static func remove(_ path: String) { unlink(path) }

    /// Makes a folder's entries (creations, renames) durable.
    static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(operation: "fsync", path: path, errno: errno) }
    }

    /// Writes a whole small file so that it appears complete or not at all: temp file, fsync, rename, fsync folder.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let partial = path + ".partial"
        remove(partial)
        let file = try File(creating: partial)
        try file.write(bytes)
        try file.sync()
        file.close()
        try rename(partial, to: path)
        try syncDirectory(String(path[..<path.lastIndex(of: "/")!]))
    }
}
