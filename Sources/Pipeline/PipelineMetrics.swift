import Foundation
import HalfsizeCore
import ImageCodecs
import JobStore
import Metrics

/// The pipeline's metrics, named here once (README's Operations section explains each). They
/// record through swift-metrics; `Telemetry.bootstrap()` makes them Prometheus series.
struct StageMetrics: Sendable {
    let consumed: Counter
    let acked: Counter
    let requeued: Counter
    let delayed: Counter
    let deadLettered: Counter
    let handling: Metrics.Timer
    let inFlight: Meter

    init(queue: StageQueue, stage: Stage) {
        let byQueue = [("queue", queue.rawValue)]
        consumed = Counter(label: "halfsize_messages_consumed_total", dimensions: byQueue)
        acked = Counter(label: "halfsize_messages_acked_total", dimensions: byQueue)
        requeued = Counter(label: "halfsize_messages_requeued_total", dimensions: byQueue)
        delayed = Counter(label: "halfsize_messages_delayed_total", dimensions: byQueue)
        deadLettered = Counter(label: "halfsize_messages_dead_lettered_total", dimensions: byQueue)
        handling = Metrics.Timer(label: "halfsize_stage_handling_seconds", dimensions: [("stage", stage.rawValue)])
        inFlight = Meter(label: "halfsize_in_flight", dimensions: [("stage", stage.rawValue)])
    }
}

/// What became of images: the halving work per format, and each image's settlement.
enum ImageMetrics {
    static func halved(_ halved: HalvedImage, bytesIn: Int) {
        let duration = halved.duration
        let format = [("format", halved.format.rawValue)]
        Counter(label: "halfsize_resize_pixels_total", dimensions: format).increment(by: halved.inputWidth * halved.inputHeight)
        Counter(label: "halfsize_resize_bytes_in_total", dimensions: format).increment(by: bytesIn)
        Counter(label: "halfsize_resize_bytes_out_total", dimensions: format).increment(by: halved.bytes.count)
        Metrics.Timer(label: "halfsize_resize_seconds", dimensions: format).record(duration: duration)
        Metrics.Timer(label: "halfsize_resize_decode_seconds", dimensions: format).record(duration: max(duration - halved.encodeDuration, .zero))
        Metrics.Timer(label: "halfsize_resize_encode_seconds", dimensions: format).record(duration: halved.encodeDuration)
    }

    /// Called once per image, by the settlement that applied (not by a redelivered duplicate).
    static func settled(_ outcome: ItemOutcome, format: ImageFormat?, stage: Stage) {
        switch outcome {
        case .resized:
            Counter(label: "halfsize_images_resized_total", dimensions: [("format", format?.rawValue ?? "unknown")]).increment()
        case .failed(let error):
            Counter(label: "halfsize_images_failed_total", dimensions: [("stage", stage.rawValue), ("code", error.code.rawValue)]).increment()
        }
    }
}

enum JobMetrics {
    static func finished(_ status: JobStatus) {
        Counter(label: "halfsize_jobs_finished_total", dimensions: [("status", status.rawValue)]).increment()
    }
}
