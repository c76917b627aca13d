import Foundation
import HalfsizeCore
import JobStore
import Logging
import Testing

/// Downloads and resizes settle many images a statement: under concurrency, with a message
/// delivered twice at once, every image still settles exactly once, its followers with it, the
/// job's counts add up and exactly one first settlement is told the job is ready for its CSV.
extension PipelineTests {
    @Test func imagesSettledTogetherSettleOnceAndCountOnce() async throws {
        let pool = DatabasePool(url: environment.databaseURL, size: 4, logger: Logger(label: "test"))
        defer { Task { try await pool.shutdown() } }
        let store = JobStore(pool: pool)
        let urls = (1...150).map { "http://supplier.test/\($0 % 120).jpg" }  // 30 rows name a URL again
        let items = urls.enumerated().map { NewItem(rowNumber: $0.offset + 1, serialNumber: Int64($0.offset + 1), position: 1, sourceURL: $0.element) }
        let job = try await store.createJob(reference: .generate(), inputFilename: nil, inputKey: "uploads/test.csv", rowCount: items.count, items: items)
        #expect(job.downloads.count == 120)
        // Every distinct item twice, all at once: a redelivery racing its first delivery.
        let twice = job.downloads + job.downloads

        let downloaded = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
            for item in twice {
                group.addTask {
                    (item.id, try await store.markDownloaded(itemID: item.id, jobID: job.id, format: "jpeg", rawKey: "raw/\(item.id).jpg", bytes: 1000))
                }
            }
            return try await group.reduce(into: [Int64: Int]()) { counts, answer in counts[answer.0, default: 0] += answer.1 ? 1 : 0 }
        }
        #expect(downloaded.count == 120 && downloaded.values.allSatisfy { $0 == 1 }, "each item recorded as downloaded once: \(downloaded)")

        let settled = try await withThrowingTaskGroup(of: (Int64, Settlement).self) { group in
            for item in twice {
                group.addTask {
                    let record = ResizeRecord(outputKey: "images/\(item.id).jpg", outputName: "\(item.id).jpg", bytesIn: 1000, bytesOut: 300,
                                              widthIn: 20, heightIn: 10, widthOut: 10, heightOut: 5, grew: false)
                    return (item.id, try await store.settleItem(itemID: item.id, jobID: job.id, outcome: .resized(record), stage: .resizer))
                }
            }
            return try await group.reduce(into: [(Int64, Settlement)]()) { $0.append(($1.0, $1.1)) }
        }
        let applied = Dictionary(grouping: settled.filter { $0.1.applied }, by: \.0).mapValues(\.count)
        #expect(applied.count == 120 && applied.values.allSatisfy { $0 == 1 }, "each item resized once: \(applied)")
        // The settlement that counted the last image down sends the csv message (a duplicate settled
        // after it may send it again, as any redelivery may: the csv-writer writes once).
        #expect(settled.filter { $0.1.applied && $0.1.jobReadyForCSV }.count == 1)

        let report = try #require(try await store.report(reference: job.reference))
        let images = report.images
        let counts: [Int] = [images.total, images.distinct, images.pending, images.downloaded, images.resized, images.failed]
        #expect(counts == [150, 120, 0, 0, 150, 0])
        #expect(report.formats == ["jpeg": 120])
        #expect(report.bytes.input == 120_000 && report.bytes.output == 36_000)
        let events = try await store.events(jobID: job.id)
        let byStatus = Dictionary(grouping: events, by: \.status).mapValues(\.count)
        #expect(byStatus["downloaded"] == 120 && byStatus["resized"] == 150 && byStatus["processing"] == 1, "\(byStatus)")
        #expect(Set(events.filter { $0.status == "resized" }.compactMap(\.itemID)).count == 150)
    }
}
