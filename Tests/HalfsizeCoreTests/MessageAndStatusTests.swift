import Foundation
import HalfsizeCore
import Messaging
import Synchronization
import Testing

@Suite("Message codec")
struct StageMessageTests {
    @Test func roundTrips() throws {
        let reference = JobReference.generate()
        let message = StageMessage(job: reference, jobID: 42, itemID: 7)
        let body = message.encoded()
        #expect(String(decoding: body, as: UTF8.self) == #"{"item_id":7,"job":"\#(reference)","job_id":42,"v":1}"#)
        #expect(try StageMessage.decode(body) == message)
        let jobOnly = StageMessage(job: reference, jobID: 42)
        #expect(try StageMessage.decode(jobOnly.encoded()).itemID == nil)
    }

    /// A message may carry what the next stage needs of its image (so the stage does not read it
    /// first); the facts need the item's id and a place from 1.
    @Test func itemFactsTravelAndAreChecked() throws {
        let reference = JobReference.generate()
        let download = StageMessage(job: reference, jobID: 42, itemID: 7, item: .init(row: 3, position: 2, url: "https://cdn.example/a.jpg"))
        #expect(String(decoding: download.encoded(), as: UTF8.self)
                == #"{"item":{"pos":2,"row":3,"url":"https:\/\/cdn.example\/a.jpg"},"item_id":7,"job":"\#(reference)","job_id":42,"v":1}"#)
        #expect(try StageMessage.decode(download.encoded()) == download)
        let resize = StageMessage(job: reference, jobID: 42, itemID: 7, item: .init(row: 3, position: 2, rawKey: "raw/\(reference)/r3-2.jpg"))
        #expect(try StageMessage.decode(resize.encoded()) == resize)
        for body in [#"{"v":1,"job":"\#(reference)","job_id":1,"item":{"row":1,"pos":1}}"#,
                     #"{"v":1,"job":"\#(reference)","job_id":1,"item_id":2,"item":{"row":0,"pos":1}}"#,
                     #"{"v":1,"job":"\#(reference)","job_id":1,"item_id":2,"item":{"row":1}}"#] {
            #expect(throws: HalfsizeError.self, "\(body)") { try StageMessage.decode(Array(body.utf8)) }
        }
    }

    @Test func rejectsOtherVersionsAndGarbage() {
        let reference = JobReference.generate()
        for body in [#"{"v":2,"job":"\#(reference)","job_id":1}"#, "not json", #"{"v":1,"job":"short","job_id":1}"#, "{}"] {
            #expect(throws: HalfsizeError.self) { try StageMessage.decode(Array(body.utf8)) }
            do { _ = try StageMessage.decode(Array(body.utf8)) } catch { #expect(error.code == .invalidMessage) }
        }
    }

    @Test func outgoingMessagesArePersistentJSONWithStableIDs() {
        let reference = JobReference.generate()
        let outgoing = OutgoingMessage(.resize, StageMessage(job: reference, jobID: 1, itemID: 9))
        #expect(outgoing.exchange == "")
        #expect(outgoing.routingKey == "halfsize.resize")
        #expect(outgoing.messageID == "\(reference):9:halfsize.resize")
    }

    @Test func delayedMessagesWaitInTheTierThatFitsTheirDelay() throws {
        let message = StageMessage(job: JobReference.generate(), jobID: 1, itemID: 9, retries: 2, retrySince: 1_700_000_000_000)
        for (delay, tier) in [(Duration.milliseconds(300), 1), (.seconds(1), 1), (.milliseconds(1500), 2), (.seconds(45), 60),
                              (.seconds(61), 120), (.seconds(3600), 300)] {
            let outgoing = OutgoingMessage.delayed(.download, message, by: delay)
            #expect(outgoing.exchange == Topology.delayExchange)
            #expect(outgoing.routingKey == "\(tier)s.halfsize.download", "\(delay)")
            #expect(outgoing.expiration == delay)
        }
        // The retry fields travel in the body and survive a round trip; a first try leaves them out.
        #expect(try StageMessage.decode(message.encoded()) == message)
        #expect(!String(decoding: StageMessage(job: message.job, jobID: 1).encoded(), as: UTF8.self).contains("retr"))
    }

    /// Found by FuzzStageMessage: a negative retry count decoded, could not survive a round trip,
    /// and would have made the backoff zero.
    @Test func negativeRetriesAreNotAStageMessage() {
        let body = #"{"job":"01M88MZSKW9796F1ZFQHYZBPS8","job_id":11,"retries":-3,"retry_since":1800000000000,"v":1}"#
        #expect(throws: HalfsizeError.self) { try StageMessage.decode(Array(body.utf8)) }
    }

    @Test func deadLetteredBodiesNameTheirJobAndImageEvenInAnotherVersion() {
        let (job, item) = StageMessage.identifiers(in: Array(#"{"v":99,"job_id":12,"item_id":345,"extra":[1]}"#.utf8))
        #expect(job == 12 && item == 345)
        let (none, nothing) = StageMessage.identifiers(in: Array("not json".utf8))
        #expect(none == nil && nothing == nil)
    }
}

@Suite("Job references")
struct JobReferenceTests {
    @Test func sortByTimeAndAreUnique() {
        var seen = Set<JobReference>()
        var previous = JobReference.generate(at: Date(timeIntervalSince1970: 1_700_000_000))
        for step in 1...2000 {
            let next = JobReference.generate(at: Date(timeIntervalSince1970: 1_700_000_000 + Double(step) * 0.001))
            #expect(previous < next)
            #expect(seen.insert(next).inserted)
            previous = next
        }
        #expect(JobReference(previous.rawValue) == previous)
        #expect(JobReference("not a reference") == nil)
        #expect(JobReference("0123456789ABCDEFGHJKMNPQRI") == nil)  // I is not Crockford base32
    }
}

extension JobReferenceTests {
    @Test func uniqueWhenGeneratedOnManyThreadsAtOnce() {
        let references = Mutex<[JobReference]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let batch = (0..<1000).map { _ in JobReference.generate() }
            references.withLock { $0 += batch }
        }
        let all = references.withLock { $0 }
        #expect(all.count == 8000)
        #expect(Set(all).count == all.count)
    }
}

@Suite("Status transitions")
struct StatusTransitionTests {
    @Test func jobStatuses() {
        #expect(JobStatus.queued.canMove(to: .processing))
        #expect(JobStatus.processing.canMove(to: .writing))
        #expect(JobStatus.writing.canMove(to: .completed))
        #expect(JobStatus.writing.canMove(to: .completedWithErrors))
        #expect(!JobStatus.completed.canMove(to: .processing))
        #expect(!JobStatus.processing.canMove(to: .queued))
        #expect(!JobStatus.queued.canMove(to: .completed))
        #expect(JobStatus.allCases.filter(\.isFinal) == [.completed, .completedWithErrors, .failed])
        #expect(JobStatus.allCases.filter(\.isFinal).allSatisfy { $0.successors.subtracting([.processing]).isEmpty })
        #expect(JobStatus.completedWithErrors.canMove(to: .processing) && JobStatus.failed.canMove(to: .processing))
        #expect(JobStatus.retryable == Set(JobStatus.allCases.filter { $0.canMove(to: .processing) && $0.isFinal }))
    }

    @Test func finalStatusFromOutcomes() {
        #expect(JobStatus.final(resized: 5, failed: 0) == .completed)
        #expect(JobStatus.final(resized: 4, failed: 1) == .completedWithErrors)
        #expect(JobStatus.final(resized: 0, failed: 3) == .failed)
    }

    @Test func itemStatuses() {
        #expect(ItemStatus.pending.canMove(to: .downloaded))
        #expect(ItemStatus.pending.canMove(to: .failed))
        #expect(ItemStatus.downloaded.canMove(to: .resized))
        #expect(!ItemStatus.pending.canMove(to: .resized))
        #expect(!ItemStatus.resized.canMove(to: .failed))
        #expect(ItemStatus.failed.canMove(to: .pending), "a retried image starts again")
        #expect(!ItemStatus.failed.canMove(to: .resized))
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func durationsTakeAUnit() throws {
        let range = Duration.seconds(1)...Duration.seconds(3650 * 86_400)
        for (text, seconds) in [("45s", 45), ("15m", 900), ("12h", 43_200), ("30d", 2_592_000), ("90", 90), (" 2D ", 172_800)] {
            let reader = ConfigurationReader(arguments: [], environment: ["HALFSIZE_RETENTION": text])
            #expect(reader.duration("HALFSIZE_RETENTION", default: "30d", in: range, "") == .seconds(seconds), "\(text)")
            try reader.finish()
        }
        for text in ["", "d", "-5s", "1w", "3.5h", "0s", "99999999999999999d"] {
            let reader = ConfigurationReader(arguments: [], environment: ["HALFSIZE_RETENTION": text])
            _ = reader.duration("HALFSIZE_RETENTION", default: "30d", in: range, "")
            #expect(throws: HalfsizeError.self, "\(text)") { try reader.finish() }
        }
    }

    @Test func flagsMirrorEnvironmentAndWin() throws {
        let reader = ConfigurationReader(arguments: ["--amqp-url", "amqp://a@b:1/", "--quality=70"],
                                         environment: ["HALFSIZE_AMQP_URL": "amqp://env@x:2/", "HALFSIZE_DATA_DIR": "/tmp/d"])
        #expect(reader.string("HALFSIZE_AMQP_URL", default: "", "") == "amqp://a@b:1/")
        #expect(reader.string("HALFSIZE_DATA_DIR", default: "", "") == "/tmp/d")
        #expect(reader.integer("HALFSIZE_QUALITY", default: 85, in: 1...100, "") == 70)
        try reader.finish()
    }

    @Test func invalidValuesAndUnknownFlagsFail() {
        let reader = ConfigurationReader(arguments: ["--quality", "500", "--colour", "red"], environment: ["HALFSIZE_FLAG": "maybe"])
        _ = reader.integer("HALFSIZE_QUALITY", default: 85, in: 1...100, "")
        _ = reader.boolean("HALFSIZE_FLAG", default: false, "")
        do {
            try reader.finish()
            Issue.record("expected a configuration error")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("HALFSIZE_QUALITY"))
            #expect(error.message.contains("HALFSIZE_FLAG"))
            #expect(error.message.contains("--colour"))
        }
    }
}
