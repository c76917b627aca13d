import HalfsizeCore

/// A download to record: pending → downloaded.
struct DownloadedItem: Sendable {
    var id: Int64
    var format: String
    var rawKey: String
    var bytes: Int
}

/// A resize to record: downloaded → resized.
struct ResizedItem: Sendable {
    var id: Int64
    var jobID: Int64
    var record: ResizeRecord
    var stage: Stage
}

/// The two settlements every image goes through, each gathered into batches (`StatementBatcher`).
/// An item named twice in one batch (a redelivery racing its first delivery) is sent once; its
/// second request is answered as not applied, as a redelivery would be.
final class SettleBatches: Sendable {
    /// Long enough that a busy stage settles several images a statement (the resizers finish one
    /// every few milliseconds), short against an image's time in the pipeline.
    static let gathering = Duration.milliseconds(10)

    let downloads: StatementBatcher<DownloadedItem, Bool>
    let resizes: StatementBatcher<ResizedItem, Settlement>

    init(pool: DatabasePool) {
        downloads = StatementBatcher(pool: pool, gathering: Self.gathering) { connection, requests in
            let unique = Self.firstOfEachItem(requests, id: \.id)
            let moved = try connection.execute(SettleStatements.downloaded, [
                PostgresArray.literal(unique.map(\.id)), PostgresArray.literal(unique.map(\.format)),
                PostgresArray.literal(unique.map(\.rawKey)), PostgresArray.literal(unique.map(\.bytes)),
            ]).rows.compactMap { $0[0].flatMap { Int64($0) } }
            return Self.applied(requests, id: \.id, moved: Set(moved))
        }
        resizes = StatementBatcher(pool: pool, gathering: Self.gathering) { connection, requests in
            let unique = Self.firstOfEachItem(requests, id: \.id)
            let records = unique.map(\.record)
            let rows = try connection.execute(SettleStatements.resized, [
                PostgresArray.literal(unique.map(\.id)), PostgresArray.literal(records.map(\.outputKey)),
                PostgresArray.literal(records.map(\.outputName)), PostgresArray.literal(records.map(\.bytesIn)),
                PostgresArray.literal(records.map(\.bytesOut)), PostgresArray.literal(records.map(\.widthIn)),
                PostgresArray.literal(records.map(\.heightIn)), PostgresArray.literal(records.map(\.widthOut)),
                PostgresArray.literal(records.map(\.heightOut)), PostgresArray.literal(records.map { $0.grew ? "true" : "false" }),
                PostgresArray.literal(unique.map(\.stage.rawValue)), PostgresArray.literal(Array(Set(unique.map(\.jobID)))),
            ]).rows
            var moved = Set<Int64>()
            var awaitingOutput = Set<Int64>()  // jobs with every image settled and the output not written
            for row in rows {
                guard let id = row[1].flatMap({ Int64($0) }) else { continue }
                if row[0] == "moved" {
                    moved.insert(id)
                } else if JobStore.awaitsOutput(remaining: row[2].flatMap { Int64($0) }, status: row[3]) {
                    awaitingOutput.insert(id)
                }
            }
            let applied = Self.applied(requests, id: \.id, moved: moved)
            // One csv message per ready job, carried by its first request that moved (or its first).
            var carriers: [Int64: Int] = [:]
            for (index, request) in requests.enumerated() where awaitingOutput.contains(request.jobID) {
                if let carrier = carriers[request.jobID], applied[carrier] || !applied[index] { continue }
                carriers[request.jobID] = index
            }
            let carrying = Set(carriers.values)
            return requests.indices.map { Settlement(applied: applied[$0], jobReadyForCSV: carrying.contains($0)) }
        }
    }

    private static func firstOfEachItem<R>(_ requests: [R], id: (R) -> Int64) -> [R] {
        var seen = Set<Int64>()
        return requests.filter { seen.insert(id($0)).inserted }
    }

    /// For each request, in order: true for the first request of an item that moved.
    private static func applied<R>(_ requests: [R], id: (R) -> Int64, moved: Set<Int64>) -> [Bool] {
        var unanswered = moved
        return requests.map { unanswered.remove(id($0)) != nil }
    }
}
