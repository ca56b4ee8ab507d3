import Foundation
import LifeboatCore
import Logging

/// Shows a ``ProgressMeter``: on a terminal, a line on stderr redrawn four times a second; otherwise a log line
/// every 30 seconds, so that a long run under cron or systemd shows it is alive. Stopped, it clears its line.
final class ProgressDisplay: @unchecked Sendable {
    let meter = ProgressMeter()
    /// The redraw (or log) timer; none when the log level asks for less than notices.
    private let timer: (any DispatchSourceTimer)?
    private let onTerminal: Bool
    private let lock = NSLock()
    // Guarded by `lock`.
    private var drawn = false
    private var stopped = false

    /// Starts showing, unless `logLevel` asks for less than notices.
    init(logger: Logger) {
        onTerminal = isatty(STDERR_FILENO) == 1
        guard logger.logLevel <= .notice else {
            timer = nil
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        self.timer = timer
        let interval: DispatchTimeInterval = onTerminal ? .milliseconds(250) : .seconds(30)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in
            guard let self, let reading = meter.reading() else { return }
            lock.lock()
            defer { lock.unlock() }
            guard !stopped else { return }  // a tick already under way when stop() ran
            if onTerminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.line(reading)).utf8))
                drawn = true
            } else {
                logger.notice("progress: \(Self.line(reading))")
            }
        }
        timer.resume()
    }

    /// Stops showing and clears the terminal line; nothing is drawn afterwards.
    func stop() {
        timer?.cancel()
        lock.lock()
        defer { lock.unlock() }
        stopped = true
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }

    deinit { timer?.cancel() }

    /// `restore  45%  1.2 GiB of 2.6 GiB  12/64 artifacts  85.3 MiB/s  ETA 17s`; a backup's total is the database's
    /// size, so it is marked `~` and the share stays below 100% until the end.
    static func line(_ reading: ProgressMeter.Reading) -> String {
        let rate = reading.seconds > 0 ? Double(reading.bytes) / reading.seconds : 0
        var parts = [reading.phase]
        if let expected = reading.expectedBytes, expected > 0 {
            let share = min(99, Int(Double(reading.bytes) * 100 / Double(expected)))
            let approximate = reading.phase == "backup" ? "~" : ""
            parts.append("\(share)%")
            parts.append("\(ByteCount.format(reading.bytes)) of \(approximate)\(ByteCount.format(expected))")
            if rate > 0, expected > reading.bytes {
                parts.append("\(ByteCount.format(Int(rate)))/s")
                parts.append("ETA \(Lifeboat.Status.age(Double(expected - reading.bytes) / rate))")
            }
        } else {
            parts.append(ByteCount.format(reading.bytes))
        }
        parts.insert("\(reading.artifactsDone)/\(reading.artifacts) artifacts", at: min(parts.count, 3))
        return parts.joined(separator: "  ")
    }
}
