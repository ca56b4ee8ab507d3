import Foundation
import Logging

/// Writes log lines to stderr as `time level message key=value ...`: the message first, so progress reads easily.
struct LineLogHandler: LogHandler {
    private static let onTerminal = isatty(STDERR_FILENO) == 1
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let time = Date().formatted(.iso8601)
        // On a terminal, first clear the line a progress display may have drawn; it is drawn again below.
        let clear = Self.onTerminal ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data("\(clear)\(time) \(event.level) \(event.message)\(fields)\n".utf8))
    }
}
