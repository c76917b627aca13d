import HalfsizeCore

/// One attempt to deliver a webhook, claimed from the database.
public struct WebhookDelivery: Sendable, Equatable {
    public var jobID: Int64
    public var reference: JobReference
    public var url: String
    /// This attempt's number in the job's current round (1 for the first).
    public var attempt: Int
}

/// What became of a webhook attempt.
public enum WebhookAttemptOutcome: Sendable, Equatable {
    case delivered(statusCode: Int)
    /// Failed; the next attempt is due after the delay.
    case retry(statusCode: Int?, error: HalfsizeError, after: Duration)
    /// Failed, and no attempt follows.
    case failed(statusCode: Int?, error: HalfsizeError)
}

/// A job's webhook as the status API shows it.
public struct WebhookReport: Sendable, Encodable, Equatable {
    public struct Attempt: Sendable, Codable, Equatable {
        public var attempt: Int
        public var at: String
        public var statusCode: Int?
        public var error: JobReport.JobError?
        public var durationMilliseconds: Int

        enum CodingKeys: String, CodingKey {
            case attempt, at, statusCode = "status_code", error, durationMilliseconds = "duration_ms"
        }
    }

    public var url: String
    /// nil while the job runs; then pending, delivered or failed.
    public var state: String?
    public var nextAttemptAt: String?
    public var attempts: [Attempt]

    enum CodingKeys: String, CodingKey { case url, state, nextAttemptAt = "next_attempt_at", attempts }
}

extension JobStore {
    /// Claims the job's webhook for one attempt when it is pending and due, leasing it for `lease`
    /// so that a duplicate message does not deliver it twice at once (a crashed sender's lease
    /// runs out and the reaper sends it again). Nil when there is nothing to deliver now.
    public func claimWebhook(jobID: Int64, lease: Duration) async throws -> WebhookDelivery? {
        try await pool.withConnection { connection in
            let claimed = try connection.query("""
                UPDATE jobs SET webhook_attempts = webhook_attempts + 1,
                       webhook_next_at = clock_timestamp() + make_interval(secs => $2::double precision)
                WHERE id = $1 AND webhook_state = 'pending' AND webhook_next_at <= clock_timestamp() + interval '1 second'
                RETURNING reference, webhook_url, webhook_attempts
                """, [String(jobID), String(lease.inMilliseconds / 1000)])
            guard claimed.count == 1, let reference = claimed.value(0, "reference").flatMap(JobReference.init),
                  let url = claimed.value(0, "webhook_url"), let attempt = claimed.int(0, "webhook_attempts") else { return nil }
            return WebhookDelivery(jobID: jobID, reference: reference, url: url, attempt: Int(attempt))
        }
    }

    /// Records an attempt and moves the webhook on: delivered, due again after a delay, or failed.
    public func recordWebhookAttempt(_ delivery: WebhookDelivery, outcome: WebhookAttemptOutcome, duration: Duration) async throws {
        let (state, statusCode, error, delay): (String, Int?, HalfsizeError?, Duration) = switch outcome {
        case .delivered(let status): ("delivered", status, nil, .zero)
        case .retry(let status, let error, let delay): ("pending", status, error, delay)
        case .failed(let status, let error): ("failed", status, error, .zero)
        }
        try await pool.transaction { connection in
            try connection.query("""
                INSERT INTO webhook_attempts (job_id, attempt, status_code, error_code, error_message, duration_ms)
                VALUES ($1, $2, $3, $4, $5, $6)
                """, [String(delivery.jobID), String(delivery.attempt), statusCode.map(String.init), error?.code.rawValue, error?.message,
                      String(duration.inMilliseconds)])
            try connection.query("""
                UPDATE jobs SET webhook_state = $2, webhook_next_at = CASE WHEN $2 = 'pending'
                       THEN clock_timestamp() + make_interval(secs => $3::double precision) END
                WHERE id = $1 AND webhook_state = 'pending'
                """, [String(delivery.jobID), state, String(Double(delay.inMilliseconds) / 1000)])
        }
    }

    /// Gives a pending webhook up without an attempt (its message was dead-lettered).
    public func failWebhook(jobID: Int64) async throws {
        try await pool.withConnection { connection in
            _ = try connection.query("""
                UPDATE jobs SET webhook_state = 'failed', webhook_next_at = NULL WHERE id = $1 AND webhook_state = 'pending'
                """, [String(jobID)])
        }
    }

    /// Pending webhooks whose attempt was due more than `overdue` ago: their message was lost
    /// (a sender died holding it, or the job finished without publishing it).
    public func overdueWebhooks(overdue: Duration, limit: Int = 500) async throws -> [(jobID: Int64, reference: JobReference)] {
        try await pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT id, reference FROM jobs
                WHERE webhook_state = 'pending' AND webhook_next_at < now() - make_interval(secs => $1::double precision)
                ORDER BY webhook_next_at LIMIT $2
                """, [String(overdue.inMilliseconds / 1000), String(limit)])
            return (0..<rows.count).compactMap { row in
                guard let id = rows.int(row, "id"), let reference = rows.value(row, "reference").flatMap(JobReference.init) else { return nil }
                return (id, reference)
            }
        }
    }

    /// The job's webhook and every attempt so far, oldest first; nil without a webhook.
    static func webhookReport(_ connection: PostgresConnection, jobID: Int64) throws -> WebhookReport? {
        let job = try connection.query("""
            SELECT webhook_url, webhook_state, to_char(webhook_next_at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS next_attempt_at
            FROM jobs WHERE id = $1 AND webhook_url IS NOT NULL
            """, [String(jobID)])
        guard let url = job.value(0, "webhook_url") else { return nil }
        let state = job.value(0, "webhook_state")
        let rows = try connection.query("""
            SELECT attempt, status_code, error_code, error_message, duration_ms, to_char(at AT TIME ZONE 'UTC', \(Self.isoTimestamp)) AS at
            FROM webhook_attempts WHERE job_id = $1 ORDER BY id
            """, [String(jobID)])
        let attempts = (0..<rows.count).map { row in
            WebhookReport.Attempt(attempt: Int(rows.int(row, "attempt") ?? 0), at: rows.value(row, "at") ?? "",
                                  statusCode: rows.int(row, "status_code").map(Int.init),
                                  error: rows.value(row, "error_code").map { .init(code: $0, message: rows.value(row, "error_message") ?? "") },
                                  durationMilliseconds: Int(rows.int(row, "duration_ms") ?? 0))
        }
        return WebhookReport(url: url, state: state, nextAttemptAt: state == "pending" ? job.value(0, "next_attempt_at") : nil,
                             attempts: attempts)
    }
}
