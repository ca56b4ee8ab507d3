import Foundation

/// Runs an action once a time limit has passed, unless stopped first. It runs on a Dispatch thread, so it fires on
/// time even while Swift's cooperative threads are all busy.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var fired = false
    private var stopped = false

    /// Starts the clock.
    init(after limit: Duration, _ action: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = limit.components
        let delay = DispatchTimeInterval.nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in
            lock.lock()
            let due = !stopped
            fired = due
            lock.unlock()
            if due { action() }
        }
    }

    /// Stops the clock.
    /// - Returns: Whether the action had already run (or started).
    func stop() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        stopped = true
        return fired
    }
}
