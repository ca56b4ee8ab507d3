import Foundation

/// Counts a backup's or restore's progress as its bytes stream, for a progress bar or periodic log lines. Safe to
/// update from any thread; reading it never slows the stream.
public final class ProgressMeter: @unchecked Sendable {
    /// What the meter has counted so far.
    public struct Reading: Sendable, Equatable {
        /// `backup` or `restore`.
        public var phase: String
        /// Raw bytes streamed.
        public var bytes: Int
        /// About how many raw bytes there will be (for a backup, the database's size); `nil` when unknown.
        public var expectedBytes: Int?
        /// Artifacts finished, and in all.
        public var artifactsDone: Int
        public var artifacts: Int
        /// Seconds since the phase started.
        public var seconds: Double

        /// Creates a reading.
        public init(phase: String, bytes: Int, expectedBytes: Int?, artifactsDone: Int, artifacts: Int, seconds: Double) {
            self.phase = phase
            self.bytes = bytes
            self.expectedBytes = expectedBytes
            self.artifactsDone = artifactsDone
            self.artifacts = artifacts
            self.seconds = seconds
        }
    }

    private let lock = NSLock()
    // Guarded by `lock`.
    private var phase = ""
    private var started = Date()
    private var bytes = 0
    private var expectedBytes: Int?
    private var artifactsDone = 0
    private var artifacts = 0

    /// Creates an idle meter.
    public init() {}

    /// Starts counting a phase from zero.
    public func start(_ phase: String, artifacts: Int, expectedBytes: Int?) {
        lock.lock()
        defer { lock.unlock() }
        self.phase = phase
        self.artifacts = artifacts
        self.expectedBytes = expectedBytes
        started = Date()
        bytes = 0
        artifactsDone = 0
    }

    /// Counts streamed bytes.
    public func add(bytes count: Int) {
        lock.lock()
        bytes += count
        lock.unlock()
    }

    /// Counts a finished artifact.
    public func finishArtifact() {
        lock.lock()
        artifactsDone += 1
        lock.unlock()
    }

    /// The counts now; `nil` before a phase started.
    public func reading() -> Reading? {
        lock.lock()
        defer { lock.unlock() }
        guard !phase.isEmpty else { return nil }
        return Reading(
            phase: phase, bytes: bytes, expectedBytes: expectedBytes, artifactsDone: artifactsDone, artifacts: artifacts,
            seconds: Date().timeIntervalSince(started))
    }
}
