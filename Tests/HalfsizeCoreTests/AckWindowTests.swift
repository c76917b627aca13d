@testable import Messaging
import Testing

/// Acks go out as one `multiple` frame for the acked run at the front of the deliveries; an ack
/// behind a delivery still in work waits for it, but not past the hold limit.
@Suite("Ack window")
struct AckWindowTests {
    let start = ContinuousClock.now

    func window(delivered tags: ClosedRange<UInt64>) -> AckWindow {
        var window = AckWindow(holdLimit: .milliseconds(20))
        for tag in tags { window.delivered(tag) }
        return window
    }

    @Test func aRunAtTheFrontGoesAsOneFrame() {
        var window = window(delivered: 1...5)
        for tag: UInt64 in [2, 1, 3] { window.ack(tag, at: start) }
        #expect(window.due(at: start) == [.init(tag: 3, multiple: true)])
        window.ack(4, at: start)
        #expect(window.due(at: start) == [.init(tag: 4, multiple: false)])
        #expect(window.isEmpty)
    }

    @Test func anAckBehindUnfinishedWorkWaitsForItThenJoinsTheRun() {
        var window = window(delivered: 1...4)
        window.ack(3, at: start)
        window.ack(4, at: start)
        #expect(window.due(at: start + .milliseconds(10)) == [])
        window.ack(1, at: start + .milliseconds(12))
        #expect(window.due(at: start + .milliseconds(12)) == [.init(tag: 1, multiple: false)])
        window.ack(2, at: start + .milliseconds(15))
        #expect(window.due(at: start + .milliseconds(15)) == [.init(tag: 4, multiple: true)])
    }

    @Test func aSlowDeliveryDoesNotHoldTheOthersPastTheLimit() {
        var window = window(delivered: 1...4)
        window.ack(2, at: start)
        window.ack(4, at: start + .milliseconds(5))
        #expect(window.due(at: start + .milliseconds(20)) == [.init(tag: 2, multiple: false)])
        #expect(window.due(at: start + .milliseconds(25)) == [.init(tag: 4, multiple: false)])
        // Delivery 1 finishes at last; 3 is rejected: 1 goes alone, nothing covers 3.
        window.rejected(3)
        window.ack(1, at: start + .milliseconds(30))
        #expect(window.due(at: start + .milliseconds(30)) == [.init(tag: 1, multiple: false)])
        window.delivered(5)
        window.ack(5, at: start + .milliseconds(31))
        #expect(window.due(at: start + .milliseconds(31)) == [.init(tag: 5, multiple: false)])
    }
}
