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
        // An hour: under a loaded suite, synchronous helpers in other tests can hold the cooperative threads for
        // tens of seconds between these lines, and a short sleep would end by itself first.
        let sleeper = try ChildProcess(executable: "/bin/sleep", arguments: ["3600"], output: .discard)
        #expect(try await sleeper.isRunning())
        sleeper.terminate()
        let status = await sleeper.wait()
        #expect(status.code == 128 + 15)
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
