import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child program whose stdin, stdout and exit are handled on a dedicated thread; stderr goes to a private
/// temporary file and is kept for error messages.
///
/// Started with `posix_spawn`, with an empty signal mask and default signal handling, whatever thread starts it:
/// threads of Swift's pool block most signals, and a child inheriting that mask would ignore `SIGTERM` and its own
/// timers.
public final class ChildProcess: @unchecked Sendable {
    /// What the child reads on stdin.
    public enum Input: Sendable { case none, pipe }
    /// Where the child's stdout goes.
    public enum Output: Sendable { case discard, pipe }

    /// How a child ended.
    public struct Status: Sendable {
        /// The exit code, or 128 + the signal that killed it.
        public let code: Int32
        /// The last lines the child wrote to stderr, folded into one line.
        public let errorOutput: String
        /// Whether it exited with code 0.
        public var succeeded: Bool { code == 0 }
    }

    private static let chunkSize = 1 << 20
    /// Reads stdout and waits for the exit.
    private let worker = BlockingWorker(name: "lifeboat-child")
    /// Writes stdin, so that a child fed and drained at once cannot deadlock on one thread.
    private let inputWorker: BlockingWorker?
    private let pid: pid_t
    /// What ``terminate()`` signals: the child, or its process group.
    private let signalTarget: pid_t
    private let errorPath: String
    // Touched only on `worker`'s thread (`inputFD` on `inputWorker`'s), or in deinit.
    private var inputFD: Int32
    private var outputFD: Int32
    private var status: Status?
    /// Held while the child is reaped or signalled, so that a signal never reaches a reused pid.
    private let reaping = NSLock()
    /// Held while a child's descriptors are made and it is started. Glibc's `pipe2` and `mkostemp`, which open
    /// descriptors close-on-exec at once, are out of Swift's reach; this lock keeps any other child from starting
    /// between a descriptor's opening and its `FD_CLOEXEC`, and so from inheriting it (a stdin pipe end held by
    /// another child would keep this child from ever seeing its end).
    private static let starting = NSLock()

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - environment: Variables set on top of Lifeboat's own environment (e.g. `PGPASSWORD`).
    ///   - unsetting: Variables of Lifeboat's own environment the child must not see (e.g. secrets).
    ///   - ownProcessGroup: Start the child in a process group of its own, which ``terminate()`` signals as a
    ///     whole: for a script whose pipelines must stop with it. The terminal's Ctrl-C then reaches Lifeboat only.
    /// - Throws: ``LifeboatError`` with code `toolMissing` when the program cannot be started.
    public init(
        executable: String, arguments: [String], environment: [String: String] = [:], input: Input = .none,
        output: Output = .pipe, ownProcessGroup: Bool = false, unsetting: Set<String> = []
    ) throws {
        Self.starting.lock()
        defer { Self.starting.unlock() }
        var template = Array((NSTemporaryDirectory() + "/lifeboat-stderr-XXXXXX").utf8CString)
        let errorFD = mkstemp(&template)
        guard errorFD >= 0 else { throw LifeboatError(.io, "cannot create a temporary file in \(NSTemporaryDirectory())") }
        errorPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)

        // Every descriptor is close-on-exec: only the ends dup2'ed to 0, 1 and 2 reach the child, so a child
        // reading stdin sees its end when we close our end.
        var inputPipe: [Int32] = [-1, -1], outputPipe: [Int32] = [-1, -1]
        if (input == .pipe && pipe(&inputPipe) != 0) || (output == .pipe && pipe(&outputPipe) != 0) {
            let reason = String(cString: strerror(errno))
            for fd in inputPipe + outputPipe + [errorFD] where fd >= 0 { close(fd) }
            unlink(errorPath)
            throw LifeboatError(.io, "cannot start \(executable): no pipe for it (\(reason)); too many open files?")
        }
        for fd in inputPipe + outputPipe + [errorFD] where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input == .pipe {
            posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if output == .pipe {
            posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, errorFD, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let variables = ProcessInfo.processInfo.environment.filter { !unsetting.contains($0.key) }
            .merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var pid: pid_t = 0
        var result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        // "Text file busy": a program just written is still open for writing in a process that another thread
        // forked meanwhile, until that one execs. Rare and brief: try again for up to half a second.
        for _ in 0..<20 where result == ETXTBSY {
            Self.starting.unlock()  // our descriptors are close-on-exec by now
            usleep(25_000)
            Self.starting.lock()
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        for fd in [inputPipe[0], outputPipe[1], errorFD] where fd >= 0 { close(fd) }
        guard result == 0 else {
            for fd in [inputPipe[1], outputPipe[0]] where fd >= 0 { close(fd) }
            unlink(errorPath)
            throw LifeboatError(.toolMissing, "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        signalTarget = ownProcessGroup ? -pid : pid
        inputWorker = input == .pipe ? BlockingWorker(name: "lifeboat-child-input") : nil
        inputFD = inputPipe[1]
        outputFD = outputPipe[0]
    }

    deinit {
        if status == nil {
            kill(signalTarget, SIGKILL)
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, 0)
        }
        for fd in [inputFD, outputFD] where fd >= 0 { close(fd) }
        unlink(errorPath)
    }

    /// The next 1 MiB of the child's stdout (less only at its end), or `nil` at its end. Blocks until then: for
    /// bulk output such as `pg_dump`'s, not for a child's messages.
    public func readOutput() async throws -> [UInt8]? {
        try await worker.run {
            var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
            var filled = 0
            while filled < Self.chunkSize {
                let got = chunk.withUnsafeMutableBytes { read(self.outputFD, $0.baseAddress! + filled, Self.chunkSize - filled) }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw LifeboatError(.io, "reading a child's output failed: \(String(cString: strerror(errno)))")
                }
                if got == 0 { break }
                filled += got
            }
            chunk.removeLast(Self.chunkSize - filled)
            return chunk.isEmpty ? nil : chunk
        }
    }

    /// Writes a chunk to the child's stdin.
    /// - Throws: ``LifeboatError`` with code `io` when the child has closed its input.
    public func writeInput(_ chunk: [UInt8]) async throws {
        guard let inputWorker else { throw LifeboatError(.internalError, "the child was started without an input pipe") }
        try await inputWorker.run {
            // A write to a child that has exited raises SIGPIPE on this thread: blocked here, it stays pending
            // and the write fails with EPIPE instead of killing the process.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            try chunk.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(self.inputFD, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw LifeboatError(.io, "the child closed its input: \(String(cString: strerror(errno)))")
                    }
                    offset += written
                }
            }
        }
    }

    /// Closes the child's stdin, so that it sees the end of its input.
    public func closeInput() async {
        await inputWorker?.runCleanup {
            if self.inputFD >= 0 { close(self.inputFD) }
            self.inputFD = -1
        }
    }

    /// Waits for the child to exit, even when the task is cancelled (a child is always reaped).
    public func wait() async -> Status {
        await worker.runCleanup {
            self.reap(blocking: true) ?? Status(code: 128, errorOutput: "the child could not be waited for")
        }
    }

    /// Whether the child is still running.
    public func isRunning() async throws -> Bool {
        try await worker.run { self.reap(blocking: false) == nil }
    }

    /// Asks the child (or its process group) to stop: `SIGTERM`, or `SIGKILL` when `force`d.
    public func terminate(force: Bool = false) {
        reaping.lock()
        defer { reaping.unlock() }
        if status == nil { kill(signalTarget, force ? SIGKILL : SIGTERM) }
    }

    /// The last 64 KiB of a file, as printable text: a child may write any amount, and any bytes, to stderr.
    private static func tail(of path: String) -> String {
        guard let file = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? file.close() }
        let size = (try? file.seekToEnd()) ?? 0
        try? file.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let text = String(decoding: (try? file.readToEnd()) ?? Data(), as: UTF8.self)
        return String(text.unicodeScalars.filter { $0 == "\n" || !CharacterSet.controlCharacters.contains($0) })
    }

    private func reap(blocking: Bool) -> Status? {
        if let status { return status }
        if blocking {
            // Wait for the exit without reaping, so that terminate() is never locked out for long.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        }
        reaping.lock()
        defer { reaping.unlock() }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, WNOHANG) } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        let signal = raw & 0x7f
        let code = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        let lines = Self.tail(of: errorPath).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        status = Status(code: code, errorOutput: lines.suffix(3).joined(separator: " "))
        return status
    }
}
