import HalfsizeCore

/// The pipeline's state from PostgreSQL, for the queue view: jobs by status, unsettled images by
/// status, how long the oldest work of each stage has waited, and the oldest unfinished job.
/// Cheap at any size: jobs are few, and unsettled images are found through a partial index.
public struct PipelineCounts: Sendable, Equatable {
    public struct OldestJob: Codable, Sendable, Equatable {
        public var reference: String
        public var status: String
        public var createdAt: String
        public var ageSeconds: Double

        enum CodingKeys: String, CodingKey { case reference, status, createdAt = "created_at", ageSeconds = "age_seconds" }
    }

    public var jobs: [String: Int]
    public var images: [String: Int]
    public var oldestWaitingSeconds: [StageQueue: Double]
    public var oldestUnfinishedJob: OldestJob?
}

extension JobStore {
    public func pipelineCounts() async throws -> PipelineCounts {
        try await pool.withConnection { connection in
            var jobs: [String: Int] = [:]
            for row in try connection.query("SELECT status, count(*) FROM jobs GROUP BY status").rows {
                if let status = row[0], let count = row[1].flatMap({ Int($0) }) { jobs[status] = count }
            }
            var images: [String: Int] = [:]
            var oldest: [StageQueue: Double] = [:]
            for row in try connection.query("""
                SELECT status, count(*), extract(epoch FROM now() - min(updated_at))
                FROM items WHERE status IN ('pending', 'downloaded') GROUP BY status
                """).rows {
                guard let status = row[0], let count = row[1].flatMap({ Int($0) }) else { continue }
                images[status] = count
                let queue: StageQueue = status == "pending" ? .download : .resize
                oldest[queue] = row[2].flatMap { Double($0) }
            }
            let writing = try connection.query("""
                SELECT extract(epoch FROM now() - min(updated_at)) FROM jobs
                WHERE status IN ('queued', 'processing', 'writing') AND remaining = 0
                """)
            oldest[.csv] = writing.rows.first?[0].flatMap { Double($0) }
            let job = try connection.query("""
                SELECT reference, status, to_char(created_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)), extract(epoch FROM now() - created_at)
                FROM jobs WHERE status IN ('queued', 'processing', 'writing') ORDER BY created_at LIMIT 1
                """)
            let oldestJob = job.rows.first.flatMap { row -> PipelineCounts.OldestJob? in
                guard let reference = row[0], let status = row[1], let created = row[2], let age = row[3].flatMap({ Double($0) }) else { return nil }
                return PipelineCounts.OldestJob(reference: reference, status: status, createdAt: created, ageSeconds: age)
            }
            return PipelineCounts(jobs: jobs, images: images, oldestWaitingSeconds: oldest, oldestUnfinishedJob: oldestJob)
        }
    }
}
