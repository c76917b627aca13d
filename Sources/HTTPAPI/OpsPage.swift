import Foundation
import HalfsizeCore
import Metrics
import Operations
import Synchronization

/// The stage queues' ack rates over the last minutes, sampled by ingest every few seconds, for
/// the ops page's chart. Kept in memory: a restarted ingest starts a new chart.
public final class ThroughputHistory: Sendable {
    public struct Sample: Sendable {
        var at: Date
        /// Acks per second by stage queue; empty when the broker's rates are unknown.
        var rates: [String: Double]
    }

    let capacity: Int
    let samples = Mutex<[Sample]>([])

    public init(capacity: Int = 120) {
        self.capacity = capacity
    }

    /// Keeps the sample, and exports the view as gauges so Prometheus can chart and alert on
    /// backlogs (the workers' own metrics cannot see a queue nobody consumes).
    public func record(_ overview: QueueOverview, at time: Date = Date()) {
        QueueGauges.export(overview)
        var rates: [String: Double] = [:]
        for queue in overview.queues where OpsPage.stageQueues.contains(queue.name) {
            if let rate = queue.ackRate { rates[queue.name] = rate }
        }
        samples.withLock { samples in
            samples.append(Sample(at: time, rates: rates))
            if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
        }
    }

    var all: [Sample] { samples.withLock { $0 } }
}

/// What `ops.mustache` shows: the queue view, the alerts worth acting on, and a throughput chart
/// drawn as inline SVG (no script: the page refreshes itself with a meta refresh).
struct OpsPage {
    static let stageQueues = ["halfsize.download", "halfsize.resize", "halfsize.csv"]
    static let colours = ["halfsize.download": "#1f77b4", "halfsize.resize": "#d62728", "halfsize.csv": "#2ca02c"]

    struct Row {
        var name: String, ready: String, unacked: String, consumers: String
        var inRate: String, outRate: String, ackRate: String, oldest: String
        var attention: Bool
    }
    struct Count { var name: String, value: Int }
    struct Series { var name: String, colour: String, points: String, latest: String }
    struct Chart {
        var width = 640, height = 180
        var series: [Series]
        var yMax: String
        var minutes: String
        var empty: Bool
    }

    var refreshSeconds: Int
    var generatedAt: String
    var source: String
    var missing: String?
    var managementError: String?
    var alerts: [String]
    /// Stored, not computed: templates read values through `Mirror`, which sees stored ones only.
    var hasAlerts: Bool
    var rows: [Row]
    var jobs: [Count]
    var images: [Count]
    var oldestJob: String?
    var storage: String?
    var chart: Chart

    init(overview: QueueOverview, history: [ThroughputHistory.Sample], refreshSeconds: Int, now: Date = Date()) {
        self.refreshSeconds = refreshSeconds
        generatedAt = now.formatted(.iso8601)
        source = overview.source
        missing = overview.missing.isEmpty ? nil : overview.missing.joined(separator: ", ")
        managementError = overview.managementError
        // Delay queues are nine of the thirteen and usually empty: the empty ones share one row.
        let idleDelays = overview.queues.filter { $0.name.hasPrefix("halfsize.delay.") && ($0.ready ?? 0) == 0 && ($0.unacked ?? 0) == 0 }
        rows = overview.queues.filter { queue in !idleDelays.contains { $0.name == queue.name } }.map { queue in
            let waiting = (queue.ready ?? 0) > 0
            let stage = Self.stageQueues.contains(queue.name)
            return Row(name: queue.name, ready: QueueTable.countText(queue.ready), unacked: QueueTable.countText(queue.unacked),
                       consumers: QueueTable.countText(queue.consumers), inRate: QueueTable.rateText(queue.publishRate),
                       outRate: QueueTable.rateText(queue.deliverRate), ackRate: QueueTable.rateText(queue.ackRate),
                       oldest: queue.oldestAgeSeconds.map(QueueTable.age) ?? "-",
                       attention: (queue.name == "halfsize.dead" && waiting) || (stage && waiting && queue.consumers == 0))
        }
        if !idleDelays.isEmpty {
            rows.append(Row(name: "halfsize.delay.* (\(idleDelays.count) empty)", ready: "0", unacked: "0", consumers: "-",
                            inRate: "-", outRate: "-", ackRate: "-", oldest: "-", attention: false))
        }
        alerts = Self.alerts(overview)
        hasAlerts = !alerts.isEmpty
        jobs = overview.jobs.sorted { $0.key < $1.key }.map { Count(name: $0.key, value: $0.value) }
        images = overview.images.sorted { $0.key < $1.key }.map { Count(name: $0.key, value: $0.value) }
        oldestJob = overview.oldestUnfinishedJob.map { "\($0.reference) (\($0.status), started \(QueueTable.age($0.ageSeconds)) ago)" }
        storage = overview.storage.map { storage in
            let kinds = storage.bytes.sorted { $0.key < $1.key }.map { "\($0.key) \(QueueTable.bytes($0.value))" }.joined(separator: ", ")
            let free = storage.freeBytes.map { "; \(QueueTable.bytes($0)) free on the volume" } ?? ""
            return "\(QueueTable.bytes(storage.totalBytes)) (\(kinds))\(free)"
        }
        chart = Self.chart(history, now: now)
    }

    /// What deserves an operator's attention now (README: what to alert on).
    static func alerts(_ overview: QueueOverview) -> [String] {
        var alerts: [String] = []
        for queue in overview.queues {
            let ready = queue.ready ?? 0
            if queue.name == "halfsize.dead", ready > 0 {
                alerts.append("\(ready) message(s) in halfsize.dead: csv-writer records them as failed images; if they stay, is csv-writer running?")
            } else if stageQueues.contains(queue.name), ready > 0, queue.consumers == 0 {
                alerts.append("\(queue.name) has \(ready) message(s) waiting and no consumer: start its worker")
            } else if stageQueues.contains(queue.name), let age = queue.oldestAgeSeconds, age > 600 {
                alerts.append("the oldest work for \(queue.name) has waited \(QueueTable.age(age)): add workers or look for a stuck stage")
            }
        }
        return alerts
    }

    /// One polyline per stage queue: x is time over the history, y the ack rate, scaled to the
    /// highest rate seen (at least 1/s, so an idle system draws flat lines at the bottom).
    static func chart(_ history: [ThroughputHistory.Sample], now: Date) -> Chart {
        let known = history.filter { !$0.rates.isEmpty }
        guard let first = known.first else {
            return Chart(series: [], yMax: "0", minutes: "0", empty: true)
        }
        let span = max(now.timeIntervalSince(first.at), 1)
        let yMax = max(known.flatMap(\.rates.values).max() ?? 0, 1)
        var chart = Chart(series: [], yMax: QueueTable.rateText(yMax), minutes: String(format: "%.0f", (span / 60).rounded(.up)), empty: false)
        let (width, height) = (Double(chart.width), Double(chart.height))
        chart.series = stageQueues.map { name in
            let points = known.map { sample -> String in
                let x = (sample.at.timeIntervalSince(first.at) / span) * width
                let y = height - (sample.rates[name] ?? 0) / yMax * (height - 4) - 2
                return String(format: "%.1f,%.1f", x, y)
            }
            return Series(name: name, colour: colours[name] ?? "#555", points: points.joined(separator: " "),
                          latest: QueueTable.rateText(known.last?.rates[name]))
        }
        return chart
    }
}

/// The queue view as Prometheus gauges, set by ingest's sampler every few seconds.
enum QueueGauges {
    static func export(_ overview: QueueOverview) {
        for queue in overview.queues {
            let name = [("queue", queue.name)]
            if let ready = queue.ready { Gauge(label: "halfsize_queue_messages_ready", dimensions: name).record(ready) }
            if let unacked = queue.unacked { Gauge(label: "halfsize_queue_messages_unacked", dimensions: name).record(unacked) }
            if let consumers = queue.consumers { Gauge(label: "halfsize_queue_consumers", dimensions: name).record(consumers) }
            if StageQueue(rawValue: queue.name) != nil {
                Gauge(label: "halfsize_queue_oldest_age_seconds", dimensions: name).record(queue.oldestAgeSeconds ?? 0)
            }
        }
        for status in JobStatus.allCases where !status.isFinal {
            Gauge(label: "halfsize_jobs", dimensions: [("status", status.rawValue)]).record(overview.jobs[status.rawValue] ?? 0)
        }
        for status in ["pending", "downloaded"] {
            Gauge(label: "halfsize_images_unsettled", dimensions: [("status", status)]).record(overview.images[status] ?? 0)
        }
        Gauge(label: "halfsize_oldest_unfinished_job_age_seconds").record(overview.oldestUnfinishedJob?.ageSeconds ?? 0)
        if let storage = overview.storage {
            for (kind, bytes) in storage.bytes { Gauge(label: "halfsize_storage_bytes", dimensions: [("kind", kind)]).record(bytes) }
            if let free = storage.freeBytes { Gauge(label: "halfsize_storage_free_bytes").record(free) }
        }
    }
}
