import Foundation
import Testing

/// The Grafana dashboard and the Prometheus alerts under deploy/ name only metrics the services
/// record (or Prometheus's own `up`), so a renamed metric cannot leave a panel silently empty.
@Suite struct DashboardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func metricNames(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "halfsize_[a-z_]+")
        let names = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { Range($0.range, in: text).map { String(text[$0]) } }
        // Histograms are queried through their _bucket series.
        return Set(names.map { $0.hasSuffix("_bucket") ? String($0.dropLast("_bucket".count)) : $0 })
    }

    static func recordedMetrics() throws -> Set<String> {
        var names: Set<String> = []
        let sources = FileManager.default.enumerator(at: root.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)
        for case let file as URL in sources! where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            let pattern = try NSRegularExpression(pattern: "label: \"(halfsize_[a-z_]+)\"|\"hb[.a-z]+\": \"(halfsize_[a-z_]+)\"|\"http[.a-z_]+\": \"(halfsize_[a-z_]+)\"")
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                for group in 1...3 {
                    if let range = Range(match.range(at: group), in: text) { names.insert(String(text[range])) }
                }
            }
        }
        return names
    }

    @Test func dashboardAndAlertsUseRecordedMetrics() throws {
        let recorded = try Self.recordedMetrics()
        #expect(recorded.contains("halfsize_messages_acked_total") && recorded.contains("halfsize_http_requests_total"), "\(recorded.sorted())")
        for path in ["deploy/grafana/halfsize.json", "deploy/prometheus/alerts.yml"] {
            let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
            let used = Self.metricNames(in: text)
            #expect(!used.isEmpty, "\(path)")
            #expect(used.subtracting(recorded).isEmpty, "\(path) names metrics nothing records: \(used.subtracting(recorded).sorted())")
        }
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("deploy/grafana/halfsize.json"))) as? [String: Any]
        let panels = dashboard?["panels"] as? [[String: Any]] ?? []
        #expect(panels.filter { $0["type"] as? String == "timeseries" }.count >= 8)
    }
}
