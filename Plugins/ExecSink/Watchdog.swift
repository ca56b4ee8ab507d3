import Foundation

/// Runs an action once a time limit has passed, unless stopped first. Its timer runs on a Dispatch thread, so it
/// fires on time even while Swift's cooperative threads are all busy, and stopping it releases the action at once.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private let timer: any DispatchSourceTimer
    // Guarded by `lock`.
    private var fired = false
    private var stopped = false

    /// Starts the clock.
    init(after limit: Duration, _ action: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = limit.components
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            lock.lock()
            let due = !stopped
            fired = due
            lock.unlock()
            if due { action() }
        }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// Stops the clock.
    /// - Returns: Whether the action had already run (or started).
    func stop() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if !stopped {
            stopped = true
            timer.cancel()
        }
        return fired
    }
}
