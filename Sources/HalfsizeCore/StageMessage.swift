import Foundation

/// The pipeline's queues.
public enum StageQueue: String, Sendable, CaseIterable {
    case download = "halfsize.download"
    case resize = "halfsize.resize"
    case csv = "halfsize.csv"
}

/// The body of every pipeline message. The database holds the details; a message names the work.
/// `itemID` is absent on the csv queue, where the job is the unit.
public struct StageMessage: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public var version: Int
    public var job: JobReference
    public var jobID: Int64
    public var itemID: Int64?

    public init(job: JobReference, jobID: Int64, itemID: Int64? = nil) {
        self.version = Self.currentVersion
        self.job = job
        self.jobID = jobID
        self.itemID = itemID
    }

    enum CodingKeys: String, CodingKey {
        case version = "v"
        case job
        case jobID = "job_id"
        case itemID = "item_id"
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding a struct of strings and integers cannot fail.
        return Array(try! encoder.encode(self))
    }

    /// Decodes a message body; a body of another schema version or shape is an `invalid_message`.
    public static func decode(_ body: [UInt8]) throws(HalfsizeError) -> StageMessage {
        let message: StageMessage
        do {
            message = try JSONDecoder().decode(StageMessage.self, from: Data(body))
        } catch {
            let preview = String(decoding: body.prefix(120), as: UTF8.self)
            throw HalfsizeError(.invalidMessage, "message body is not a halfsize stage message: \(preview)")
        }
        guard message.version == currentVersion else {
            throw HalfsizeError(.invalidMessage, "message schema version \(message.version) is not \(currentVersion)")
        }
        return message
    }
}
