import LifeboatCore
import Testing

@Suite struct ChildProcessTests {
    @Test func streamsStdinThroughToStdout() async throws {
        let cat = try ChildProcess(executable: "/bin/cat", arguments: [], input: .pipe)
        let block = [UInt8](repeating: 42, count: 3 << 20)
        async let echoed: [UInt8] = {
            var all: [UInt8] = []
            while let chunk = try await cat.readOutput() { all += chunk }
            return all
        }()
        // cat's output is drained concurrently, so a large input cannot deadlock on a full pipe.
        for _ in 0..<2 { try await cat.writeInput(block) }
        await cat.closeInput()
        #expect(try await echoed.count == 6 << 20)
        #expect(await cat.wait().succeeded)
    }

    @Test func terminateStopsAChildStartedFromAPoolThread() async throws {
        let sleeper = try ChildProcess(executable: "/bin/sleep", arguments: ["30"], output: .discard)
        #expect(try await sleeper.isRunning())
        // What the child blocks and ignores, should it outlive the signal.
        let signals = (try? String(contentsOfFile: "/proc/\(sleeper.pid)/status", encoding: .utf8))?
            .split(separator: "\n").filter { $0.hasPrefix("Sig") }.joined(separator: " ") ?? ""
        sleeper.terminate()
        let status = await sleeper.wait()
        #expect(status.code == 128 + 15, "\(signals)")
    }

    @Test func keepsTheLastLinesOfStderr() async throws {
        let failing = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "echo one >&2; echo two >&2; exit 3"], output: .discard)
        let status = await failing.wait()
        #expect(status.code == 3)
        #expect(status.errorOutput == "one two")
    }

    @Test func missingProgramIsAClearError() {
        #expect {
            try ChildProcess(executable: "/nonexistent/program", arguments: [])
        } throws: { ($0 as? LifeboatError)?.code == .toolMissing }
    }
}
