/// One target during a backup run: its backup writer, and its failure once it has one.
actor TargetRun {
    /// The target.
    nonisolated let target: BackupTarget
    /// The backup being written there.
    nonisolated let writer: any BackupWriter
    /// The first failure; a failed target receives nothing more.
    private(set) var failure: LifeboatError?

    init(target: BackupTarget, writer: any BackupWriter) {
        self.target = target
        self.writer = writer
    }

    /// The target's name.
    nonisolated var name: String { target.sink.name }

    /// Records a failure, unless one was recorded already.
    func fail(_ error: any Error) {
        guard failure == nil else { return }
        failure = Self.describe(error, target: name)
    }

    /// The failure as a `LifeboatError` whose message names the target.
    static func describe(_ error: any Error, target name: String) -> LifeboatError {
        switch error {
        case let error as LifeboatError where error.message.contains("'\(name)'"): error
        case let error as LifeboatError: LifeboatError(error.code, "target '\(name)': \(error.message)", cause: error)
        case is CancellationError: LifeboatError(.interrupted, "target '\(name)': interrupted")
        default: LifeboatError(.targetUnwritable, "target '\(name)' failed: \(error)", cause: error)
        }
    }
}
