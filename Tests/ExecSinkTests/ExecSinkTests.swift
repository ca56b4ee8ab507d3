import Foundation
import LifeboatCore
import LifeboatExecSink
import LifeboatSinkTests
import Testing

/// How the exec sink handles programs that misbehave, and how its configuration reaches them.
@Suite struct ExecSinkTests {
    /// A shell program: `hello` answers, `begin`, `list` and `abort` succeed, and `verbs` says what the rest do.
    /// Its folder goes when the test's `defer { program.remove() }` runs.
    struct Program {
        let folder = Examples.freshFolder()
        var path: String { folder.appendingPathComponent("sink").path }

        init(hello: String = "echo lifeboat-exec-protocol 1", verbs: String) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let script = """
                #!/usr/bin/env bash
                case "$1" in
                  hello) \(hello) ;;
                \(verbs)
                  begin|list|abort) ;;
                esac

                """
            try Examples.writeExecutable(script, to: path)
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }

        func sink(_ options: [String: String] = [:]) throws -> ExecSink {
            try ExecSink(target: TargetConfig(name: "custom", url: "exec://" + path, options: options))
        }
    }

    func error(_ body: () async throws -> Void) async -> LifeboatError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? LifeboatError
        }
    }

    /// Writes `bytes` to artifact `name` of a new backup and commits the artifact.
    func put(_ bytes: [UInt8], to sink: ExecSink, chunk: Int = 1 << 16) async throws {
        let writer = try #require(try await sink.beginBackup(id: "20250101000000"))
        let artifact = try await writer.makeArtifactWriter(name: "schema.pgdump")
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            try await artifact.write(Array(bytes[start..<min(bytes.count, start + chunk)]))
        }
        try await artifact.commit()
    }

    @Test func aProgramThatDoesNotSpeakTheProtocolIsRefused() async throws {
        let program = try Program(hello: "echo hi there", verbs: "")
        defer { program.remove() }
        let failure = await error { _ = try await program.sink().listBackups() }
        #expect(failure?.message.contains("printed 'hi there', not 'lifeboat-exec-protocol 1'") == true, "\(failure!)")
        #expect(failure?.message.contains("docs/plugins.md") == true)
    }

    @Test func aProgramOfANewerProtocolIsExplained() async throws {
        let program = try Program(hello: "echo lifeboat-exec-protocol 2 3", verbs: "")
        defer { program.remove() }
        let failure = await error { _ = try await program.sink().listBackups() }
        #expect(failure?.code == .configInvalid)
        #expect(failure?.message.contains("speaks exec protocol version(s) 2, 3, this Lifeboat speaks 1") == true)
    }

    @Test func aPutThatStoresOtherBytesIsCaught() async throws {
        let program = try Program(verbs: #"  put) cat >/dev/null; echo "3 $(printf abc | sha256sum | cut -c1-64)" ;;"#)
        defer { program.remove() }
        let failure = await error { try await put(Array("abcd".utf8), to: program.sink()) }
        #expect(failure?.code == .checksumMismatch)
        #expect(failure?.message.contains("the program stored 3 bytes") == true, "\(String(describing: failure))")
        #expect(failure?.message.contains("Lifeboat sent 4 bytes") == true)
    }

    @Test func aPutThatAnswersNothingBreaksTheProtocol() async throws {
        let program = try Program(verbs: "  put) cat >/dev/null ;;")
        defer { program.remove() }
        let failure = await error { try await put([1, 2, 3], to: program.sink()) }
        #expect(failure?.message.contains("did not end its output with '<size> <sha256>'") == true, "\(String(describing: failure))")
    }

    @Test func aProgramKilledDuringPutIsReported() async throws {
        let program = try Program(verbs: "  put) head -c 100000 >/dev/null; kill -9 $$ ;;")
        defer { program.remove() }
        let failure = await error { try await put(Array(repeating: 7, count: 3 << 20), to: program.sink()) }
        #expect(failure?.message.contains("'\(program.path) put' was killed by signal 9") == true, "\(String(describing: failure))")
    }

    @Test func aProgramThatQuitsEarlyWithoutAnErrorIsCaught() async throws {
        let program = try Program(verbs: "  put) head -c 10 >/dev/null; exit 0 ;;")
        defer { program.remove() }
        let failure = await error { try await put(Array(repeating: 7, count: 3 << 20), to: program.sink()) }
        #expect(failure?.message.contains("exited before reading all of its input") == true, "\(String(describing: failure))")
    }

    @Test func aFailingGetIsAnErrorEvenAfterItsBytes() async throws {
        let program = try Program(verbs: "  get) printf 'some bytes'; echo 'remote went away' >&2; exit 4 ;;")
        defer { program.remove() }
        let reader = try await program.sink().openArtifact(backupID: "20250101000000", name: "schema.pgdump")
        #expect(try await reader.read() == Array("some bytes".utf8))
        let failure = await error { _ = try await reader.read() }
        #expect(failure?.code == .artifactMissing)
        #expect(failure?.message.contains("failed with exit code 4: remote went away") == true)
        await reader.close()
    }

    @Test func secretOptionsStayOutOfMessagesAndArguments() async throws {
        let program = try Program(
            verbs: #"  manifest) echo "args: $*; login refused for key $LIFEBOAT_OPTION_API_KEY at $LIFEBOAT_OPTION_HOST" >&2; exit 1 ;;"#)
        defer { program.remove() }
        let sink = try program.sink(["api_key": "s3cr3t-v4lue", "host": "tape.example"])
        let failure = await error { _ = try await sink.readManifest(backupID: "20250101000000") }
        let message = try #require(failure?.message)
        #expect(message.contains("args: manifest 20250101000000; login refused for key *** at tape.example"), "\(message)")
        #expect(!message.contains("s3cr3t"))
    }

    @Test func aHungProgramIsStoppedAfterItsTimeout() async throws {
        // A subshell outlives its parent shell unless the whole process group is stopped.
        let program = try Program(verbs: #"  manifest) ( sleep 5; touch "$0.finished" ) ;;"#)
        defer { program.remove() }
        let failure = await error {
            _ = try await program.sink(["timeout_seconds": "1"]).readManifest(backupID: "20250101000000")
        }
        #expect(failure?.message.contains("kept Lifeboat waiting over 1 s and was stopped") == true, "\(String(describing: failure))")
        try await Task.sleep(for: .seconds(6))
        #expect(!FileManager.default.fileExists(atPath: program.path + ".finished"))
    }

    @Test func aPutThatStopsReadingIsStoppedAfterItsTimeout() async throws {
        let program = try Program(verbs: "  put) sleep 30 ;;")
        defer { program.remove() }
        let started = ContinuousClock.now
        let failure = await error {
            try await put(Array(repeating: 1, count: 4 << 20), to: program.sink(["timeout_seconds": "3"]), chunk: 1 << 20)
        }
        #expect(failure?.message.contains("'\(program.path) put' kept Lifeboat waiting over 3 s and was stopped") == true,
                "\(String(describing: failure))")
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func aPutIsStoppedWhenItsTaskIsCancelled() async throws {
        let program = try Program(verbs: #"  put) echo $$ > "$0.pid"; sleep 30 ;;"#)
        defer { program.remove() }
        let sink = try program.sink()
        let started = ContinuousClock.now
        let writing = Task { try await put(Array(repeating: 1, count: 4 << 20), to: sink, chunk: 1 << 20) }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: program.path + ".pid") {
            try await Task.sleep(for: .milliseconds(100))
        }
        writing.cancel()
        _ = await writing.result
        #expect(ContinuousClock.now - started < .seconds(20), "the cancelled write waited for the program")
        let pid = try #require(Int32(try String(contentsOfFile: program.path + ".pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Reaped once its process group has been signalled; on a busy machine that can take a moment.
        var running = true
        for _ in 0..<50 where running {
            running = kill(pid, 0) == 0
            if running { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!running, "the program still runs")
    }

    @Test func aProgramThatIgnoresSIGTERMIsKilled() async throws {
        let program = try Program(verbs: "  manifest) trap '' TERM; sleep 20 ;;")
        defer { program.remove() }
        let started = ContinuousClock.now
        let failure = await error {
            _ = try await program.sink(["timeout_seconds": "1"]).readManifest(backupID: "20250101000000")
        }
        #expect(failure?.message.contains("kept Lifeboat waiting over 1 s") == true, "\(String(describing: failure))")
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test func aProgramFloodingStdoutIsRefusedWithoutHoldingItAll() async throws {
        let program = try Program(verbs: "  put) cat >/dev/null; head -c 20000000 /dev/zero ;;")
        defer { program.remove() }
        let failure = await error { try await put([1, 2, 3], to: program.sink()) }
        #expect(failure?.message.contains("printed more than 64 KiB on stdout") == true, "\(String(describing: failure))")
    }

    @Test func aCommitThatIgnoresTheManifestIsCaught() async throws {
        let program = try Program(verbs: #"  commit) echo "0 $(printf '' | sha256sum | cut -c1-64)" ;;"#)
        defer { program.remove() }
        let writer = try #require(try await program.sink().beginBackup(id: "20250101000000"))
        let failure = await error { try await writer.commit(manifest: Array(repeating: 65, count: 200_000)) }
        #expect(failure?.code == .checksumMismatch)
        #expect(failure?.message.contains("stored 0 bytes") == true && failure?.message.contains("for the manifest") == true)
    }

    @Test func aProgramFixedAfterAFailedHelloIsAskedAgain() async throws {
        let program = try Program(hello: "echo not yet; exit 1", verbs: "")
        defer { program.remove() }
        // Run through sh: a script rewritten while other tests start programs can be "busy" to exec.
        let sink = try ExecSink(target: TargetConfig(name: "custom", url: "exec://", listOptions: ["command": ["/bin/sh", program.path]]))
        #expect(await error { _ = try await sink.listBackups() } != nil)
        try "#!/bin/sh\n[ \"$1\" = hello ] && echo lifeboat-exec-protocol 1\nexit 0\n".write(
            toFile: program.path, atomically: false, encoding: .utf8)
        #expect(try await sink.listBackups() == [])
    }

    @Test func exitTenMeansAbsentOrTaken() async throws {
        let program = try Program(verbs: "  manifest|get|delete) exit 10 ;;")
        defer { program.remove() }
        let sink = try program.sink()
        #expect(await error { _ = try await sink.readManifest(backupID: "20250101000000") }?.code == .backupNotFound)
        #expect(await error { _ = try await sink.openArtifact(backupID: "20250101000000", name: "a.copy") }?.code == .artifactMissing)
        #expect(await error { try await sink.deleteBackup(id: "20250101000000") }?.code == .backupNotFound)
        let taken = try Program(verbs: "  begin) exit 10 ;;")
        defer { taken.remove() }
        #expect(try await taken.sink().beginBackup(id: "20250101000000") == nil)
    }

    @Test func badConfigurationIsRefusedUpFront() throws {
        let program = try Program(verbs: "")
        defer { program.remove() }
        let notExecutable = program.folder.appendingPathComponent("plain").path
        #expect(FileManager.default.createFile(atPath: notExecutable, contents: Data("x".utf8)))
        let cases: [(TargetConfig, String)] = [
            (TargetConfig(name: "t", url: "exec://" + notExecutable), "is not an executable file; check the path"),
            (TargetConfig(name: "t", url: "exec://no-such-lifeboat-program"), "needs its program either in the URL"),
            (TargetConfig(name: "t", url: "exec://", listOptions: ["command": ["no-such-lifeboat-program"]]), "in PATH"),
            (TargetConfig(name: "t", url: "exec://" + program.path, listOptions: ["command": ["sh"]]), "not both"),
            (TargetConfig(name: "t", url: "exec://" + program.path, options: ["Bad-Key": "x"]), "key 'Bad-Key' cannot"),
            (TargetConfig(name: "t", url: "exec://" + program.path, options: ["timeout_seconds": "0"]), "timeout_seconds"),
            (TargetConfig(name: "t", url: "exec://" + program.path, listOptions: ["other": ["x"]]), "unknown key 'other'"),
        ]
        for (target, expected) in cases {
            #expect {
                _ = try ExecSink(target: target)
            } throws: { error in
                (error as? LifeboatError)?.code == .configInvalid && "\(error)".contains(expected)
            }
        }
    }

    @Test func aCommandWithArgumentsIsFoundInPath() async throws {
        let folder = Examples.freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = TargetConfig(
            name: "dedup", url: "exec://", options: ["path": folder.path],
            listOptions: ["command": ["python3", "-B", Examples.program("dedup-sink.py")]])
        let location = try ExecSink(target: target).location
        #expect(location.hasPrefix("exec:///") && location.hasSuffix("/python3 -B " + Examples.program("dedup-sink.py")))
        try await SinkConformance { try ExecSink(target: target) }.run(.roundTripsEmptySmallAndLargeArtifacts)
    }

    @Test func theDedupExampleStoresEachDistinctArtifactOnce() async throws {
        let folder = Examples.freshFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let sink = try ExecSink(
            target: TargetConfig(name: "dedup", url: "exec://" + Examples.program("dedup-sink.py"), options: ["path": folder.path]))
        let unchanged = Array(repeating: UInt8(1), count: 200_000)
        for (id, changed) in [("20250101000000", [UInt8(2)]), ("20250102000000", [3])] {
            let writer = try #require(try await sink.beginBackup(id: id))
            for (name, bytes) in [("data/000001-public.big.copy", unchanged), ("data/000002-public.small.copy", changed)] {
                let artifact = try await writer.makeArtifactWriter(name: name)
                try await artifact.write(bytes)
                try await artifact.commit()
            }
            try await writer.commit(manifest: Array("{}".utf8))
        }
        let objects = { try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("objects").path)
            .filter { !$0.hasPrefix(".") }.count }
        #expect(try objects() == 3)
        try await sink.deleteBackup(id: "20250101000000")
        #expect(try objects() == 2)
        var back: [UInt8] = []
        let reader = try await sink.openArtifact(backupID: "20250102000000", name: "data/000001-public.big.copy")
        while let chunk = try await reader.read() { back += chunk }
        await reader.close()
        #expect(back == unchanged)
        try await sink.deleteBackup(id: "20250102000000")
        #expect(try objects() == 0)
    }
}
