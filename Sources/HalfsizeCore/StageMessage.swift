import Foundation

/// The pipeline's queues.
public enum StageQueue: String, Sendable, CaseIterable {
    case download = "halfsize.download"
    case resize = "halfsize.resize"
    case csv = "halfsize.csv"
    /// Finished jobs whose webhook is due (csv-writer delivers them).
    case webhook = "halfsize.webhook"
    /// Messages a stage queue dead-lettered (delivery limit reached, or rejected as undecodable).
    case dead = "halfsize.dead"
}

/// The body of every pipeline message. The database holds the details; a message names the work.
/// `itemID` is absent on the csv queue, where the job is the unit. `item`, when present, carries
/// what the next stage needs of the image, so the stage need not read it from the database first.
/// A message sent again after a fault of ours carries how many times it has been (`retries`) and
/// since when (`retrySince`, milliseconds since 1970), so the retry horizon holds while the
/// database is away.
public struct StageMessage: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public var version: Int
    public var job: JobReference
    public var jobID: Int64
    public var itemID: Int64?
    public var retries: Int
    public var retrySince: Int64?
    public var item: ItemFacts?

    /// An image's place and source (download), or its place and stored original (resize).
    /// Messages sent by the relay, the reaper and retries carry none: the stage reads the item.
    public struct ItemFacts: Codable, Sendable, Equatable {
        public var row: Int
        public var position: Int
        public var url: String?
        public var rawKey: String?

        public init(row: Int, position: Int, url: String? = nil, rawKey: String? = nil) {
            self.row = row
            self.position = position
            self.url = url
            self.rawKey = rawKey
        }

        enum CodingKeys: String, CodingKey { case row, position = "pos", url, rawKey = "raw" }
    }

    public init(job: JobReference, jobID: Int64, itemID: Int64? = nil, retries: Int = 0, retrySince: Int64? = nil, item: ItemFacts? = nil) {
        self.version = Self.currentVersion
        self.job = job
        self.jobID = jobID
        self.itemID = itemID
        self.retries = retries
        self.retrySince = retrySince
        self.item = item
    }

    enum CodingKeys: String, CodingKey {
        case version = "v"
        case job
        case jobID = "job_id"
        case itemID = "item_id"
        case retries
        case retrySince = "retry_since"
        case item
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        job = try container.decode(JobReference.self, forKey: .job)
        jobID = try container.decode(Int64.self, forKey: .jobID)
        itemID = try container.decodeIfPresent(Int64.self, forKey: .itemID)
        retries = try container.decodeIfPresent(Int.self, forKey: .retries) ?? 0
        retrySince = try container.decodeIfPresent(Int64.self, forKey: .retrySince)
        item = try container.decodeIfPresent(ItemFacts.self, forKey: .item)
        guard retries >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .retries, in: container, debugDescription: "retries must not be negative")
        }
        if let item, item.row < 1 || item.position < 1 || itemID == nil {
            throw DecodingError.dataCorruptedError(forKey: .item, in: container, debugDescription: "an item's facts need its id and a row and position from 1")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(job, forKey: .job)
        try container.encode(jobID, forKey: .jobID)
        try container.encodeIfPresent(itemID, forKey: .itemID)
        if retries > 0 { try container.encode(retries, forKey: .retries) }
        try container.encodeIfPresent(retrySince, forKey: .retrySince)
        try container.encodeIfPresent(item, forKey: .item)
    }

    /// The ids a dead-lettered body names, read leniently: a body of another version or shape
    /// may still say which job and image it was for.
    public static func identifiers(in body: [UInt8]) -> (jobID: Int64?, itemID: Int64?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return (nil, nil) }
        func integer(_ key: String) -> Int64? { (object[key] as? NSNumber).map { $0.int64Value } }
        return (integer("job_id"), integer("item_id"))
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
