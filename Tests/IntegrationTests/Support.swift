import CImageFixtures
import Foundation
import HalfsizeCore
import Hummingbird
import ImageCodecs
import JobStore
import Logging
import ServiceLifecycle
import Synchronization
import TestCorpus
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The broker and database that deploy/local/test started for this run, or nil when the
/// integration tests are not switched on.
struct IntegrationEnvironment: Sendable {
    var brokerURL: String
    var databaseURL: String
    var binaries: URL
    /// RabbitMQ's management API, when the test broker runs it.
    var managementURL: String?

    static let current: IntegrationEnvironment? = {
        let environment = ProcessInfo.processInfo.environment
        guard let broker = environment["HALFSIZE_TEST_AMQP_URL"], let database = environment["HALFSIZE_TEST_DATABASE_URL"] else { return nil }
        let binaries = environment["HALFSIZE_TEST_BIN_DIR"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return IntegrationEnvironment(brokerURL: broker, databaseURL: database, binaries: binaries,
                                      managementURL: environment["HALFSIZE_TEST_RABBITMQ_MANAGEMENT_URL"])
    }()
}

func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
        }
    }
    guard bound else { throw HalfsizeError(.invalidConfiguration, "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A local HTTP server for the tests' images: `/corpus/…` serves ../shared/corpus, `/slow/…` the
/// same after a pause, `/held/…` the same after a short hold while counting the requests in
/// flight, anything else is a 404.
final class ImageServer: Sendable {
    let port: Int
    let group: ServiceGroup
    private let held: InFlightCounter
    /// What `POST /webhook/:key` received.
    let webhooks: WebhookInbox

    /// The most `/held/` requests the server has had in flight at once.
    var peakHeldRequests: Int { held.peak }

    static func start(slowDelay: Duration = .seconds(3)) async throws -> ImageServer {
        let router = Router()
        let serve: @Sendable (String) async throws -> Response = { relative in
            guard !relative.contains(".."), let data = FileManager.default.contents(atPath: Corpus.root.appendingPathComponent(relative).path) else {
                return Response(status: .notFound)
            }
            let type = relative.hasSuffix(".png") ? "image/png" : "image/jpeg"
            return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/corpus/**") { request, _ in try await serve(String(request.uri.path.dropFirst("/corpus/".count))) }
        router.get("/slow/**") { request, _ in
            try await Task.sleep(for: slowDelay)
            return try await serve(String(request.uri.path.dropFirst("/slow/".count)))
        }
        // A photo saved at quality 10: its halved output at quality 85 is larger than it is.
        let lowQuality = try lowQualityJPEG()
        router.get("/generated/low-quality.jpg") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: lowQuality)))
        }
        // Formats the corpus lacks, written by their own libraries (GeneratedImages).
        let generated = GeneratedImages.all
        router.get("/made/:name") { _, context in
            guard let name = context.parameters.get("name"), let bytes = generated[name] else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "\(ImageFormat.detect(bytes).mediaType)"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // 404 the first time a key is asked for, the file after: a supplier fixing a broken link.
        let asked = Mutex<Set<String>>([])
        router.get("/appears/:key/**") { request, context in
            let key = context.parameters.get("key") ?? ""
            let first = asked.withLock { $0.insert(key).inserted }
            if first { return Response(status: .notFound) }
            let path = request.uri.path.dropFirst("/appears/".count)
            return try await serve(String(path.drop { $0 != "/" }.dropFirst()))
        }
        let held = InFlightCounter()
        router.get("/held/**") { request, _ in
            held.enter()
            defer { held.leave() }
            try await Task.sleep(for: .milliseconds(500))
            return try await serve(String(request.uri.path.dropFirst("/held/".count)))
        }
        // A webhook receiver: records each delivery, answers 500 to the first `fail` of a key.
        let webhooks = WebhookInbox()
        router.post("/webhook/:key") { request, context in
            let key = context.parameters.get("key") ?? ""
            let fail = request.uri.queryParameters.get("fail").flatMap { Int($0) } ?? 0
            let body = try await request.body.collect(upTo: 1 << 20)
            let count = webhooks.record(key, WebhookInbox.Delivery(
                signature: request.headers[.init("Halfsize-Signature")!], contentType: request.headers[.contentType],
                body: Array(buffer: body)))
            return Response(status: count <= fail ? .internalServerError : .noContent)
        }
        // Stands in for an S3 bucket "slowdown" that answers each key's first PUT 503 SlowDown.
        router.put("/slowdown/**") { request, _ in
            let count = webhooks.record("s3-slowdown:\(request.uri.path)", WebhookInbox.Delivery(signature: nil, contentType: nil, body: []))
            guard count > 1 else {
                return Response(status: .serviceUnavailable, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string:
                    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")))
            }
            return Response(status: .ok)
        }
        // Stands in for an S3 bucket "capture" only to show what a request carries (headers, body).
        router.put("/capture/**") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 22)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            _ = webhooks.record("s3-capture", WebhookInbox.Delivery(signature: nil, contentType: request.headers[.contentType],
                                                                     body: Array(buffer: body), headers: headers))
            return Response(status: .ok)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "test.images")
        logger.logLevel = .warning
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                      onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
                                      logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw HalfsizeError(.invalidConfiguration, "image server did not start") }
        return ImageServer(port: port, group: group, held: held, webhooks: webhooks)
    }

    private init(port: Int, group: ServiceGroup, held: InFlightCounter, webhooks: WebhookInbox) {
        self.port = port
        self.group = group
        self.held = held
        self.webhooks = webhooks
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    func stop() { Task { [group] in await group.triggerGracefulShutdown() } }
}

final class WebhookInbox: Sendable {
    struct Delivery: Sendable {
        var signature: String?
        var contentType: String?
        var body: [UInt8]
        /// Every header, by lowercased name.
        var headers: [String: String] = [:]
    }

    private let deliveries = Mutex<[String: [Delivery]]>([:])

    /// Records a delivery; returns how many the key has had.
    func record(_ key: String, _ delivery: Delivery) -> Int {
        deliveries.withLock { $0[key, default: []].append(delivery); return $0[key]!.count }
    }

    func received(_ key: String) -> [Delivery] { deliveries.withLock { $0[key] ?? [] } }
}

/// Images the corpus lacks, made by the formats' own encoders.
enum GeneratedImages {
    static let all: [String: [UInt8]] = {
        // 30 × 21: opaque red on the left, transparent on the right.
        var rgba: [UInt8] = []
        for _ in 0..<21 { for x in 0..<30 { rgba += x < 15 ? [220, 30, 30, 255] : [0, 0, 0, 0] } }
        let frames: [[UInt8]] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]].map { colour in (0..<16 * 12).flatMap { _ in colour } }
        let photo = try! ImageDecoder.decode(Corpus.bytes("j16_building_0.5mp.jpg")).pixels
        // black, red, green, blue: a GIF animation 10 × 6 with a transparent hole in its second frame.
        let gifPalette: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]
        let gifFrames: [FixtureGIF.Frame] = [
            .init(width: 10, height: 6, indices: [UInt8](repeating: 1, count: 60), disposal: 2, delay: 10),
            .init(width: 10, height: 6, indices: (0..<60).map { $0 % 10 < 4 ? 0 : 2 }, disposal: 2, delay: 20, transparent: 0),
            .init(width: 10, height: 6, indices: [UInt8](repeating: 3, count: 60), disposal: 2, delay: 30),
        ]
        return [
            "logo.bmp": bmpWithAlpha(),
            "badge.avif": FixtureAVIF.encode([rgba], durations: [0], width: 30, height: 21, alpha: true),
            "photo.tiff": FixtureTIFF.encode(photo.bytes, width: photo.width, height: photo.height, channels: photo.channels,
                                             photometric: .rgb, compression: .lzw),
            "animated.gif": FixtureGIF.encode(width: 10, height: 6, palette: gifPalette, frames: gifFrames, loopCount: 0),
            "alpha.webp": FixtureWebP.encode(rgba, width: 30, height: 21, channels: 4, lossless: true),
            "animated.webp": FixtureWebP.animation(frames, durations: [100, 200, 300], width: 16, height: 12, loopCount: 0, lossless: true),
            "photo.webp": FixtureWebP.encode(photo.bytes, width: photo.width, height: photo.height, channels: photo.channels,
                                             lossless: false, quality: 85),
        ]
    }()
}

/// A 12 × 8 32-bit BMP (V4 header, alpha mask): opaque blue on the left, transparent on the right.
func bmpWithAlpha() -> [UInt8] {
    func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
    let (width, height) = (12, 8)
    var header = le32(108) + le32(width) + le32(height) + [1, 0, 32, 0] + le32(3) + le32(0) + le32(2835) + le32(2835) + le32(0) + le32(0)
    header += le32(0x00FF_0000) + le32(0x0000_FF00) + le32(0x0000_00FF) + le32(Int(0xFF00_0000))
    header += [UInt8](repeating: 0, count: 108 - header.count)
    var pixels: [UInt8] = []
    for _ in 0..<height { for x in 0..<width { pixels += x < 6 ? [255, 0, 0, 255] : [0, 0, 0, 0] } }
    let offset = 14 + header.count
    return Array("BM".utf8) + le32(offset + pixels.count) + le32(0) + le32(offset) + header + pixels
}

/// A corpus photo re-encoded at quality 10.
func lowQualityJPEG() throws -> [UInt8] {
    let photo = try ImageDecoder.decode(Corpus.bytes("j16_building_0.5mp.jpg")).pixels
    return FixtureJPEG.encode(photo.bytes, width: photo.width, height: photo.height, colourSpace: Int32(FIXTURE_YCBCR), quality: 10)
}

/// Counts requests in flight and remembers the most there were at once.
final class InFlightCounter: Sendable {
    private let counts = Mutex<(current: Int, peak: Int)>((0, 0))
    var peak: Int { counts.withLock { $0.peak } }
    func enter() { counts.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) } }
    func leave() { counts.withLock { $0.current -= 1 } }
}

/// The four real executables, started against the test broker and database.
final class RunningSystem: @unchecked Sendable {
    static let services = ["ingest", "downloader", "resizer", "csv-writer"]
    let processes: [(name: String, process: Process)]
    let publicURL: String
    let logDirectory: URL
    let dataDirectory: URL
    /// What every program was started with (a test starting more copies uses it too).
    let variables: [String: String]
    /// Each program's /metrics (ingest's on its HTTP port, the workers' on HALFSIZE_METRICS_ADDR).
    let metricsURLs: [String: String]

    /// `@unchecked`: the processes are only started here and stopped in `stop()`, by one test.
    static func start(_ environment: IntegrationEnvironment, extra: [String: String] = [:],
                      services: [String] = RunningSystem.services) async throws -> RunningSystem {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("halfsize-it-\(UUID().uuidString)")
        let logs = root.appendingPathComponent("logs"), data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let port = try freePort()
        let publicURL = "http://127.0.0.1:\(port)"
        var variables = ProcessInfo.processInfo.environment
        variables["HALFSIZE_AMQP_URL"] = environment.brokerURL
        variables["HALFSIZE_DATABASE_URL"] = environment.databaseURL
        variables["HALFSIZE_DATA_DIR"] = data.path
        variables["HALFSIZE_HTTP_ADDR"] = "127.0.0.1:\(port)"
        variables["HALFSIZE_PUBLIC_URL"] = publicURL
        variables["HALFSIZE_ALLOW_PRIVATE_NETWORKS"] = "true"
        variables["HALFSIZE_CONCURRENCY"] = "2"
        variables["HALFSIZE_RABBITMQ_MANAGEMENT_URL"] = environment.managementURL
        variables.merge(extra) { $1 }
        var processes: [(String, Process)] = []
        var metricsURLs = ["ingest": "\(publicURL)/metrics"]
        for name in services {
            let process = Process()
            process.executableURL = environment.binaries.appendingPathComponent(name)
            process.environment = variables
            if name != "ingest" {
                let metricsPort = try freePort()
                process.environment?["HALFSIZE_METRICS_ADDR"] = "127.0.0.1:\(metricsPort)"
                metricsURLs[name] = "http://127.0.0.1:\(metricsPort)/metrics"
            }
            let log = logs.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append((name, process))
        }
        let system = RunningSystem(processes: processes, publicURL: publicURL, logDirectory: logs, dataDirectory: data,
                                   variables: variables, metricsURLs: metricsURLs)
        try await system.waitUntilHealthy()
        return system
    }

    init(processes: [(name: String, process: Process)], publicURL: String, logDirectory: URL, dataDirectory: URL,
         variables: [String: String], metricsURLs: [String: String]) {
        self.processes = processes
        self.publicURL = publicURL
        self.logDirectory = logDirectory
        self.dataDirectory = dataDirectory
        self.variables = variables
        self.metricsURLs = metricsURLs
    }

    /// A program's metrics, as Prometheus text.
    func metrics(_ name: String) async throws -> PrometheusSamples {
        let (code, body) = try await HTTP.get(try #require(metricsURLs[name]))
        #expect(code == 200, "\(name) /metrics answered \(code)")
        return PrometheusSamples(String(decoding: body, as: UTF8.self))
    }

    func waitUntilHealthy() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let (status, _) = try? await HTTP.get("\(publicURL)/healthz"), status == 200 {
                // The workers connect on their own; give their consumers a moment too.
                try await Task.sleep(for: .milliseconds(500))
                return
            }
            for (name, process) in processes where !process.isRunning {
                throw HalfsizeError(.invalidConfiguration, "\(name) exited with \(process.terminationStatus): \(log(name))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw HalfsizeError(.invalidConfiguration, "ingest never became healthy: \(log("ingest"))")
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: logDirectory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// SIGTERM to each process; returns the exit statuses (0 is a graceful stop).
    @discardableResult
    func stop() -> [String: Int32] {
        for (_, process) in processes where process.isRunning { process.terminate() }
        var statuses: [String: Int32] = [:]
        for (name, process) in processes {
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning, Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            statuses[name] = process.terminationStatus
        }
        return statuses
    }
}

enum HTTP {
    static func get(_ url: String) async throws -> (Int, [UInt8]) {
        try await send(URLRequest(url: URL(string: url)!))
    }

    static func post(_ url: String, body: [UInt8], contentType: String) async throws -> (Int, [UInt8]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        return try await send(request)
    }

    static func send(_ request: URLRequest) async throws -> (Int, [UInt8]) {
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, [UInt8](data))
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw HalfsizeError(.invalidMessage, "not a JSON object: \(String(decoding: bytes, as: UTF8.self))")
        }
        return object
    }

    /// A form with the file field, then each text field.
    static func multipart(field: String, filename: String, content: [UInt8], fields: KeyValuePairs<String, String> = [:]) -> (body: [UInt8], contentType: String) {
        let boundary = "halfsize-\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
        body += content
        for (name, value) in fields {
            body += Array("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)".utf8)
        }
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}

/// deploy/local/image_server.py, the misbehaving supplier the chaos run uses too: flaky, throttling,
/// resetting, slow and missing paths, and a count of every request it had.
final class SupplierServer: Sendable {
    let port: Int
    private let process: Process

    /// With `tls`, one HTTPS port per certificate (`ports`, in order), and `port` the first.
    static func start(tls: [(certificate: URL, key: URL)] = []) throws -> SupplierServer {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/image_server.py").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--corpus", Corpus.root.path, "--exit-with-stdin"]
            + tls.flatMap { ["--tls", "\($0.certificate.path),\($0.key.path)"] }
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        // Not the test's own stderr: swift test waits for every holder of it to close it.
        process.standardError = FileHandle.nullDevice
        // The server exits when this pipe closes, so a test process that dies leaves nothing behind.
        process.standardInput = input
        try process.run()
        var ports: [Int] = []
        for _ in 0..<max(1, tls.count) {
            var line: [UInt8] = []
            while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
            guard let port = Int(String(decoding: line, as: UTF8.self)) else {
                process.terminate()
                throw HalfsizeError(.invalidConfiguration, "image_server.py did not print its port")
            }
            ports.append(port)
        }
        return SupplierServer(ports: ports, process: process, input: input)
    }

    private let input: Pipe

    let ports: [Int]

    private init(ports: [Int], process: Process, input: Pipe) {
        self.port = ports[0]
        self.ports = ports
        self.process = process
        self.input = input
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    /// How many times each path was requested.
    func requests() async throws -> [String: Int] {
        let (_, body) = try await HTTP.get(url("stats"))
        return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Int]) ?? [:]
    }

    /// SIGTERM; Foundation reaps the process (its waitUntilExit spins when called from a test task).
    func stop() { process.terminate() }
}

/// The HTTPS tests' certificates, made by deploy/local/test-certificates with openssl: a CA
/// (`ca.pem`), and `good`, `expired`, `otherhost` (signed by it) and `selfsigned` (`.pem`, `.key`).
enum TestCertificates {
    static func make() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halfsize-certs-\(UUID())")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local/test-certificates").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, directory.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HalfsizeError(.invalidConfiguration, "test-certificates failed") }
        return directory
    }

    static func pair(_ directory: URL, _ name: String) -> (certificate: URL, key: URL) {
        (directory.appendingPathComponent("\(name).pem"), directory.appendingPathComponent("\(name).key"))
    }
}

/// Prometheus text parsed into samples, summed over series by name and label values.
struct PrometheusSamples {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{") {
                name = String(series[..<brace])
                let inner = series[series.index(after: brace)..<(series.lastIndex(of: "}") ?? series.endIndex)]
                for pair in inner.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    /// The sum of every series of `name` whose labels include `matching`.
    func total(_ name: String, _ matching: [String: String] = [:]) -> Int {
        let series = samples.filter { sample in sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value } }
        return Int(series.reduce(0) { $0 + $1.value })
    }
}

/// curl, for what URLSession does on its own: following redirects, answering Basic challenges.
enum Curl {
    /// The status line and headers, and the body, of one request that follows no redirect.
    static func run(_ arguments: [String]) throws -> (status: Int, headers: String, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        let headersFile = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID()).headers")
        defer { try? FileManager.default.removeItem(at: headersFile) }
        process.arguments = ["-s", "-D", headersFile.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let body = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let headers = (try? String(contentsOf: headersFile, encoding: .utf8)) ?? ""
        let status = headers.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, headers, body)
    }
}
