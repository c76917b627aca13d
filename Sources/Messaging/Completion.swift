import HalfsizeCore
import Synchronization

/// The one way a waiter handed to the I/O thread is answered: at most once, whichever path
/// gets there first (its confirm, a failed write, a lost session, shutdown, a deadline). Later
/// answers are ignored, so every path may simply answer everything it holds.
final class Completion<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, any Error>?>

    init(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func succeed(_ value: Value) { take()?.resume(returning: value) }
    func fail(_ error: any Error) { take()?.resume(throwing: error) }

    private func take() -> CheckedContinuation<Value, any Error>? {
        continuation.withLock { held in
            defer { held = nil }
            return held
        }
    }
}
