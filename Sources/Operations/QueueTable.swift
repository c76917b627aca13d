import Foundation
import Storage

/// The queue view as aligned text, for `halfsizectl queues`: one row per queue, then the
/// pipeline's counts, the oldest unfinished job and storage. A field the source cannot give is `-`.
public enum QueueTable {
    public static func render(_ overview: QueueOverview) -> String {
        let header = ["QUEUE", "READY", "UNACKED", "CONSUMERS", "IN/s", "OUT/s", "ACK/s", "OLDEST"]
        let rows = overview.queues.map { queue in
            [queue.name, countText(queue.ready), countText(queue.unacked), countText(queue.consumers),
             rateText(queue.publishRate), rateText(queue.deliverRate), rateText(queue.ackRate), queue.oldestAgeSeconds.map(age) ?? "-"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell  // names left, numbers right
            }.joined(separator: "  ")
        }
        var lines = [line(header)] + rows.map(line)
        lines.append("")
        lines.append("jobs:    " + summary(overview.jobs))
        lines.append("images:  " + summary(overview.images) + "  (unsettled)")
        if let job = overview.oldestUnfinishedJob {
            lines.append("oldest unfinished job: \(job.reference) (\(job.status), \(age(job.ageSeconds)))")
        }
        if let storage = overview.storage {
            let free = storage.freeBytes.map { ", \(bytes($0)) free" } ?? ""
            lines.append("storage: \(bytes(storage.totalBytes)) in \(storage.objects.values.reduce(0, +)) files\(free)")
        }
        lines.append("source:  \(overview.source)" + (overview.missing.isEmpty ? "" : " (without \(overview.missing.joined(separator: ", ")))"))
        return lines.joined(separator: "\n")
    }

    public static func countText(_ value: Int?) -> String { value.map(String.init) ?? "-" }
    public static func rateText(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "-" }

    static func summary(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// 42s, 7m 5s, 3h 2m, 2d 4h.
    public static func age(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        switch total {
        case ..<60: return "\(max(total, 0))s"
        case ..<3600: return "\(total / 60)m \(total % 60)s"
        case ..<86_400: return "\(total / 3600)h \(total % 3600 / 60)m"
        default: return "\(total / 86_400)d \(total % 86_400 / 3600)h"
        }
    }

    /// 1.2 GB, in powers of 1000 as disks are sold.
    public static func bytes(_ value: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var amount = Double(value), unit = 0
        while amount >= 1000, unit < units.count - 1 { amount /= 1000; unit += 1 }
        return unit == 0 ? "\(value) B" : String(format: "%.1f ", amount) + units[unit]
    }
}
