import ArgumentParser
import Foundation
import HalfsizeCore
import Operations
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@main
struct HalfsizeCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "halfsizectl",
        abstract: "The operator's view of halfsize: its queues, and the local system's resizers.",
        subcommands: [Queues.self, Scale.self])
}

struct Queues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every halfsize queue, the pipeline's counts and storage.")

    @Option(help: "ingest's address (default: $HALFSIZE_PUBLIC_URL, else http://127.0.0.1:8080)")
    var url: String = ProcessInfo.processInfo.environment["HALFSIZE_PUBLIC_URL"] ?? "http://127.0.0.1:8080"

    @Option(help: "admin token, when ingest has one (default: $HALFSIZE_ADMIN_TOKEN)")
    var token: String? = ProcessInfo.processInfo.environment["HALFSIZE_ADMIN_TOKEN"]

    @Flag(help: "redraw the table in place until Ctrl-C")
    var watch = false

    @Option(help: "seconds between redraws with --watch")
    var interval: Double = 2

    func validate() throws {
        guard URL(string: url)?.host != nil else { throw ValidationError("--url must be an http(s) URL, not \(url)") }
        guard interval >= 0.5 else { throw ValidationError("--interval must be at least 0.5 seconds") }
    }

    func run() async throws {
        guard watch else {
            print(try await fetch())
            return
        }
        while true {
            let text: String
            do { text = try await fetch() } catch { text = "cannot read the queue view: \(error)" }
            // Home, draw, clear what the last (longer) drawing left below.
            let screen = "\u{1B}[H" + text.replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + "\u{1B}[K\n\u{1B}[J"
                + "\(Date().formatted(date: .omitted, time: .standard)) · every \(interval) s · Ctrl-C to stop"
            FileHandle.standardOutput.write(Data(screen.utf8))
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    func fetch() async throws -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        var request = URLRequest(url: URL(string: base + "/api/v1/queues")!, timeoutInterval: 10)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: data)).map { "\($0.error.code): \($0.error.message)" }
            throw HalfsizeError(.brokerUnavailable, "\(base)/api/v1/queues answered HTTP \(status)\(message.map { ": \($0)" } ?? "")")
        }
        return QueueTable.render(try JSONDecoder().decode(QueueOverview.self, from: data))
    }

    struct ErrorBody: Decodable {
        struct Inner: Decodable { var code: String, message: String }
        var error: Inner
    }
}

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N copies of a worker on this machine (the system deploy/local/up runs).",
        discussion: "Stopped copies get SIGTERM and finish what they hold; the broker redelivers what they had not started.")

    @Argument(help: "the worker to scale (resizer)")
    var program: String

    @Argument(help: "how many copies should run")
    var count: Int

    @Option(help: "where pid files are kept")
    var runDir: String = ProcessInfo.processInfo.environment["HALFSIZE_RUN_DIR"] ?? ".data/run"

    @Option(help: "where copies write their logs (default: the run directory's sibling log/)")
    var logDir: String?

    @Option(help: "where the programs are (default: beside halfsizectl)")
    var binDir: String?

    @Option(help: "copy K serves /metrics on 127.0.0.1:(base + K) (default: HALFSIZE_RESIZER_METRICS_BASE from <run-dir>/<program>.env)")
    var metricsPortBase: Int?

    @Option(help: "seconds to wait for a stopping copy before it is killed")
    var stopTimeout: Int = 60

    func validate() throws {
        guard program == "resizer" else { throw ValidationError("only resizer scales this way; the other stages run once each") }
        guard (0...64).contains(count) else { throw ValidationError("count must be from 0 to 64") }
    }

    func run() throws {
        let run = URL(fileURLWithPath: runDir)
        let fromFile = LocalScaler.readEnvironmentFile(run.appendingPathComponent("\(program).env"))
        let binaries = binDir.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let scaler = LocalScaler(
            program: program, binaries: binaries, runDirectory: run,
            logDirectory: logDir.map { URL(fileURLWithPath: $0) } ?? run.deletingLastPathComponent().appendingPathComponent("log"),
            environment: ProcessInfo.processInfo.environment.merging(fromFile) { $1 },
            metricsPortBase: metricsPortBase ?? fromFile["HALFSIZE_RESIZER_METRICS_BASE"].flatMap { Int($0) })
        let scaling = try scaler.scale(to: count, stopTimeout: .seconds(stopTimeout))
        for change in scaling.changes { print(change) }
        print("\(program): \(scaling.before) → \(scaling.after) running")
        if scaling.after != count { throw ExitCode.failure }
    }
}
