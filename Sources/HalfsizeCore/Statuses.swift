/// A job's life: queued → processing → writing → completed | completed_with_errors | failed; a
/// finished job with failed images goes back to processing when they are retried.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued, processing, writing, completed
    case completedWithErrors = "completed_with_errors"
    case failed

    public var isFinal: Bool { self == .completed || self == .completedWithErrors || self == .failed }

    /// The statuses a job may move to from this one.
    public var successors: Set<JobStatus> {
        switch self {
        case .queued: [.processing, .writing, .failed]
        case .processing: [.writing, .failed]
        case .writing: [.completed, .completedWithErrors, .failed]
        case .completedWithErrors, .failed: [.processing]  // retrying its failed images
        case .completed: []
        }
    }

    public func canMove(to next: JobStatus) -> Bool { successors.contains(next) }

    /// The statuses from which a job's failed images can be retried.
    public static let retryable: Set<JobStatus> = [.completedWithErrors, .failed]

    /// The final status once every image has settled.
    public static func final(resized: Int, failed: Int) -> JobStatus {
        if failed == 0 { return .completed }
        return resized == 0 ? .failed : .completedWithErrors
    }
}

/// An image's life: pending → downloaded → resized, or failed from either of the first two; a
/// failed image goes back to pending when its job is retried.
public enum ItemStatus: String, Sendable, Codable, CaseIterable {
    case pending, downloaded, resized, failed

    public var isFinal: Bool { self == .resized || self == .failed }

    public var successors: Set<ItemStatus> {
        switch self {
        case .pending: [.downloaded, .failed]
        case .downloaded: [.resized, .failed]
        case .failed: [.pending]
        case .resized: []
        }
    }

    public func canMove(to next: ItemStatus) -> Bool { successors.contains(next) }
}
