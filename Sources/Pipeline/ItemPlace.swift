import HalfsizeCore
import JobStore

/// Which image a stage works on and where its files go: from the message when it carries the
/// item's facts, else from the item's row.
struct ItemPlace: Sendable, Equatable {
    var id: Int64
    var jobID: Int64
    var reference: JobReference
    var row: Int
    var position: Int
}

extension ItemPlace {
    init(_ item: ItemRecord) {
        self.init(id: item.id, jobID: item.jobID, reference: item.jobReference, row: item.rowNumber, position: item.position)
    }

    /// The place a message names, when it carries the item's facts.
    init?(_ message: StageMessage) {
        guard let id = message.itemID, let facts = message.item else { return nil }
        self.init(id: id, jobID: message.jobID, reference: message.job, row: facts.row, position: facts.position)
    }

    /// The resize message: `message` (keeping its retry fields) with this item's stored original.
    func message(after message: StageMessage, rawKey: String?) -> StageMessage {
        var next = message
        next.itemID = id
        next.item = .init(row: row, position: position, rawKey: rawKey)
        return next
    }
}
