import Foundation
import LifeboatCore

/// A target's program and how to talk to it: the Lifeboat exec protocol, version 1 (`docs/plugins.md`).
///
/// Each operation is one run of the program, `command... VERB OPERANDS`. Exit 0 means done, exit
/// ``absentExitCode`` means "no such backup or artifact" (or, for `begin`, "that id is taken"), anything else is a
/// failure whose last stderr lines become the error message.
struct ExecProgram: Sendable {
    /// The protocol version this Lifeboat speaks.
    static let protocolVersion = 1
    /// The exit code for "absent" (or "taken").
    static let absentExitCode: Int32 = 10

    /// The target's name, for messages.
    let target: String
    /// The absolute path of the program, then its fixed arguments.
    let command: [String]
    /// Set for every run: the protocol version, the target's name and its options.
    let environment: [String: String]
    /// Option values that must never appear in a message.
    let secrets: [String]
    /// How long the program may keep Lifeboat waiting: for a verb's answer, and in `put` and `get` for each chunk
    /// and for the reply after the last one.
    let timeout: Duration
    /// The answer to `hello`, asked once.
    let handshake = Handshake()

    /// What a finished run said.
    enum Reply {
        /// Exit 0, with the program's stdout.
        case done([UInt8])
        /// Exit ``absentExitCode``.
        case absent
    }

    /// Runs `verb`, feeding it `input` if given, and waits for its exit within ``timeout``.
    /// - Parameter limit: The most stdout bytes the answer may have.
    /// - Throws: ``LifeboatError`` when the program fails, crashes, times out, or does not speak the protocol.
    func call(_ verb: String, _ operands: [String] = [], input: [UInt8]? = nil, limit: Int = 64 << 20) async throws
        -> Reply
    {
        if verb != "hello" { try await handshake.check(self) }
        let child = try start(verb, operands, input: input != nil)
        let (output, status) = try await guarded(verb, child) {
            async let output = Self.readAll(child, limit: limit)
            if let input {
                try? await child.writeInput(input)
                await child.closeInput()
            }
            let bytes = try await output
            return (bytes, await child.wait())
        }
        guard let output else { throw violation(verb, "printed more than \(limit >> 10) KiB on stdout") }
        return try reply(to: verb, status, output: output)
    }

    /// Waits for `body`, but no longer than ``timeout``, and not past the task's cancellation: either stops the
    /// program's process group (``stop(_:)``).
    /// - Throws: ``LifeboatError`` when the time ran out (whatever the program then did), or what `body` throws.
    func guarded<T>(_ verb: String, _ child: ChildProcess, _ body: () async throws -> T) async throws -> T {
        let watchdog = Watchdog(after: timeout) { [weak child] in child.map(Self.stop) }
        let result: Result<T, any Error>
        do {
            result = .success(try await withTaskCancellationHandler(operation: body) { [weak child] in child.map(Self.stop) })
        } catch {
            result = .failure(error)
        }
        if watchdog.stop() {
            throw LifeboatError(
                .targetUnwritable,
                "target '\(target)': \(describe(verb)) kept Lifeboat waiting over \(timeout.components.seconds) s and "
                    + "was stopped; fix the program, or raise timeout_seconds for a slow store")
        }
        try Task.checkCancellation()
        return try result.get()
    }

    /// Stops a program: `SIGTERM` to its process group, and `SIGKILL` five seconds later if it is still there.
    static func stop(_ child: ChildProcess) {
        child.terminate()
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [weak child] in child?.terminate(force: true) }
    }

    /// Checks a `SIZE SHA256` reply (of `put` and `commit`) against what Lifeboat sent.
    /// - Throws: ``LifeboatError`` when the reply is missing or differs.
    func checkStored(_ verb: String, reply output: [UInt8], name: String, sent: StreamDigest) throws {
        let lines = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline)
        let words = (lines.last { !$0.allSatisfy(\.isWhitespace) } ?? "").split(separator: " ").map(String.init)
        guard words.count == 2, let size = Int(words[0]) else {
            throw violation(verb, "did not end its output with '<size> <sha256>' of what it received and stored")
        }
        let expected = sent.hexDigest()
        guard size == sent.byteCount, words[1].lowercased() == expected else {
            throw LifeboatError(
                .checksumMismatch,
                "target '\(target)': the program stored \(size) bytes with SHA-256 \(Self.printable(words[1].prefix(16)))… "
                    + "for \(name), but Lifeboat sent \(sent.byteCount) bytes with SHA-256 \(expected.prefix(16))…; "
                    + "the program loses or changes bytes")
        }
    }

    /// Starts `verb` without waiting: for `put` and `get`, whose bytes stream.
    func start(_ verb: String, _ operands: [String], input: Bool) throws -> ChildProcess {
        do {
            return try ChildProcess(
                executable: command[0], arguments: Array(command.dropFirst()) + [verb] + operands,
                environment: environment, input: input ? .pipe : .none, output: .pipe, ownProcessGroup: true)
        } catch let error as LifeboatError {
            throw LifeboatError(.targetUnwritable, "target '\(target)': \(redacted(error.message))", cause: error)
        }
    }

    /// What a finished run means: its output, "absent", or an error.
    func reply(to verb: String, _ status: ChildProcess.Status, output: [UInt8]) throws -> Reply {
        switch status.code {
        case 0: return .done(output)
        case Self.absentExitCode: return .absent
        default: throw failure(verb, status)
        }
    }

    /// The error for a run that ended with anything but 0 or ``absentExitCode``.
    func failure(_ verb: String, _ status: ChildProcess.Status) -> LifeboatError {
        let how = status.code > 128 ? "was killed by signal \(status.code - 128)" : "failed with exit code \(status.code)"
        let said = status.errorOutput.isEmpty ? "" : ": \(redacted(status.errorOutput))"
        return LifeboatError(.targetUnwritable, "target '\(target)': \(describe(verb)) \(how)\(said)")
    }

    /// An error for a program that broke the protocol.
    func violation(_ verb: String, _ problem: String) -> LifeboatError {
        LifeboatError(
            .targetUnwritable,
            "target '\(target)': \(describe(verb)) \(Self.printable(redacted(problem))); see docs/plugins.md for the "
                + "exec protocol")
    }

    /// `text` without control characters, for one-line messages.
    static func printable<S: StringProtocol>(_ text: S) -> String {
        String(String(text).unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) })
    }

    /// `'/path/to/program put'`, for messages.
    func describe(_ verb: String) -> String { "'\(command[0]) \(verb)'" }

    /// `text` with every secret option value replaced by `***`.
    func redacted(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    /// What the child writes to stdout until it closes it; `nil` when that is more than `limit` bytes (the rest
    /// is read and dropped, so that the child never blocks on a full pipe).
    static func readAll(_ child: ChildProcess, limit: Int) async throws -> [UInt8]? {
        var output: [UInt8]? = []
        while let chunk = try await child.readOutput() {
            if let kept = output { output = kept.count + chunk.count <= limit ? kept + chunk : nil }
        }
        return output
    }
}

/// The program's answer to `hello`, asked once per sink and shared by its concurrent callers.
actor Handshake {
    private var answer: Task<Void, any Error>?

    /// Throws unless the program speaks ``ExecProgram/protocolVersion``.
    func check(_ program: ExecProgram) async throws {
        let pending = answer ?? Task { try await Self.ask(program) }
        answer = pending
        do {
            try await pending.value
        } catch {
            answer = nil  // a program fixed in the meantime is asked again
            throw error
        }
    }

    private static func ask(_ program: ExecProgram) async throws {
        guard case .done(let output) = try await program.call("hello", limit: 64 << 10) else {
            throw program.violation("hello", "exited with code \(ExecProgram.absentExitCode)")
        }
        let line = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let words = line.split(separator: " ")
        guard words.first == "lifeboat-exec-protocol", words.count > 1 else {
            throw program.violation(
                "hello", "printed '\(ExecProgram.printable(line.prefix(80)))', not 'lifeboat-exec-protocol 1'")
        }
        let versions = words.dropFirst().compactMap { Int($0) }
        guard versions.contains(ExecProgram.protocolVersion) else {
            throw LifeboatError(
                .configInvalid,
                "target '\(program.target)': the program speaks exec protocol version(s) "
                    + "\(versions.map(String.init).joined(separator: ", ")), this Lifeboat speaks "
                    + "\(ExecProgram.protocolVersion); use a program and a Lifeboat that share a version")
        }
    }
}
