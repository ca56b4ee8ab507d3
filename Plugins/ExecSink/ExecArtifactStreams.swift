import LifeboatCore

/// Streams one artifact into `program put ID NAME` and checks the size and SHA-256 it reports having stored.
final class ExecArtifactWriter: ArtifactWriter, @unchecked Sendable {
    private let program: ExecProgram
    private let name: String
    private let child: ChildProcess
    /// The program's stdout, read all along so that a chatty program cannot block on a full pipe.
    private let reply: Task<[UInt8], any Error>
    // Touched by one caller at a time: the engine awaits each write before the next.
    private var sent = StreamDigest()

    init(program: ExecProgram, backupID: String, name: String) throws {
        self.program = program
        self.name = name
        let child = try program.start("put", [backupID, name], input: true)
        self.child = child
        reply = Task { try await ExecProgram.readAll(child) }
    }

    func write(_ chunk: [UInt8]) async throws {
        sent.update(chunk)
        do {
            try await child.writeInput(chunk)
        } catch let error as LifeboatError where error.code == .io {
            // The program stopped reading: its exit says why.
            await child.closeInput()
            _ = try? await reply.value
            let status = await child.wait()
            throw status.succeeded
                ? program.violation("put", "exited before reading all of its input") : program.failure("put", status)
        }
    }

    func commit() async throws {
        await child.closeInput()
        let output = try await reply.value
        guard case .done = try program.reply(to: "put", await child.wait(), output: output) else {
            throw program.violation("put", "exited with code \(ExecProgram.absentExitCode)")
        }
        let line = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let words = line.split(separator: " ").map(String.init)
        guard words.count == 2, let size = Int(words[0]) else {
            throw program.violation("put", "printed '\(line.prefix(100))', not '<size> <sha256>' of what it stored")
        }
        let expected = sent.hexDigest()
        guard size == sent.byteCount, words[1].lowercased() == expected else {
            throw LifeboatError(
                .checksumMismatch,
                "target '\(program.target)': the program stored \(size) bytes with SHA-256 \(words[1].prefix(16))… "
                    + "for \(name), but Lifeboat sent \(sent.byteCount) bytes with SHA-256 \(expected.prefix(16))…; "
                    + "the program loses or changes bytes")
        }
    }

    /// Stops the program (a killed `put` must leave no artifact) and reaps it.
    func abort() async {
        child.terminate()
        await child.closeInput()
        reply.cancel()
        _ = await child.wait()
    }
}

/// Streams one artifact out of `program get ID NAME`; the program's failure after its last byte is an error.
final class ExecArtifactReader: ArtifactReader, @unchecked Sendable {
    private let program: ExecProgram
    private let child: ChildProcess
    // Touched by one caller at a time: readers are read in order.
    private var first: [UInt8]?
    private var finished = false

    private init(program: ExecProgram, child: ChildProcess, first: [UInt8]?) {
        self.program = program
        self.child = child
        self.first = first
        finished = first == nil
    }

    /// Starts the program and reads the first chunk, so that an absent artifact is known at once.
    /// - Returns: `nil` when the program says the artifact is absent.
    static func open(_ program: ExecProgram, backupID: String, name: String) async throws -> ExecArtifactReader? {
        let child = try program.start("get", [backupID, name], input: false)
        let first: [UInt8]?
        do {
            first = try await child.readOutput()
        } catch {
            child.terminate()
            _ = await child.wait()
            throw error
        }
        if first == nil, case .absent = try program.reply(to: "get", await child.wait(), output: []) { return nil }
        return ExecArtifactReader(program: program, child: child, first: first)
    }

    func read() async throws -> [UInt8]? {
        if let chunk = first {
            first = nil
            return chunk
        }
        if !finished, let chunk = try await child.readOutput() { return chunk }
        finished = true
        let status = await child.wait()
        guard status.succeeded else {
            throw LifeboatError(.artifactMissing, program.failure("get", status).message)
        }
        return nil
    }

    func close() async {
        child.terminate()
        _ = await child.wait()
    }
}
