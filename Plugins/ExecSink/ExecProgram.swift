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
    /// How long a run that moves no artifact (every verb but `put` and `get`) may take.
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
    /// - Throws: ``LifeboatError`` when the program fails, crashes, times out, or does not speak the protocol.
    func call(_ verb: String, _ operands: [String] = [], input: [UInt8]? = nil) async throws -> Reply {
        if verb != "hello" { try await handshake.check(self) }
        let child = try start(verb, operands, input: input != nil)
        let watchdog = Watchdog(after: timeout) { child.terminate() }
        defer { _ = watchdog.stop() }
        let output = try await withTaskCancellationHandler {
            async let output = Self.readAll(child)
            if let input {
                try? await child.writeInput(input)
                await child.closeInput()
            }
            return try await output
        } onCancel: {
            child.terminate()
        }
        let status = await child.wait()
        if watchdog.stop() && !status.succeeded && status.code != Self.absentExitCode {
            throw LifeboatError(
                .targetUnwritable,
                "target '\(target)': \(describe(verb)) gave no answer within \(timeout.components.seconds) s and was "
                    + "stopped; fix the program or raise timeout_seconds")
        }
        try Task.checkCancellation()
        return try reply(to: verb, status, output: output)
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
            "target '\(target)': \(describe(verb)) \(redacted(problem)); see docs/plugins.md for the exec protocol")
    }

    /// `'/path/to/program put'`, for messages.
    func describe(_ verb: String) -> String { "'\(command[0]) \(verb)'" }

    /// `text` with every secret option value replaced by `***`.
    func redacted(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    /// Everything the child writes to stdout, until it closes it.
    static func readAll(_ child: ChildProcess) async throws -> [UInt8] {
        var output: [UInt8] = []
        while let chunk = try await child.readOutput() { output += chunk }
        return output
    }
}

/// The program's answer to `hello`, asked once per sink and shared by its concurrent callers.
actor Handshake {
    private var answer: Task<Void, any Error>?

    /// Throws unless the program speaks ``ExecProgram/protocolVersion``.
    func check(_ program: ExecProgram) async throws {
        if answer == nil { answer = Task { try await Self.ask(program) } }
        try await answer!.value
    }

    private static func ask(_ program: ExecProgram) async throws {
        guard case .done(let output) = try await program.call("hello") else {
            throw program.violation("hello", "exited with code \(ExecProgram.absentExitCode)")
        }
        let line = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let words = line.split(separator: " ")
        guard words.first == "lifeboat-exec-protocol", words.count > 1 else {
            throw program.violation("hello", "printed '\(line.prefix(80))', not 'lifeboat-exec-protocol 1'")
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
