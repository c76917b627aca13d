import Foundation
import HalfsizeCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts and stops copies of one worker program on this machine, as `deploy/local/up` runs
/// them: copy K writes its pid to `<run>/<program>-K.pid` and its log to `<log>/<program>-K.log`.
/// Stopping sends SIGTERM to the highest-numbered copies, which finish what they hold (the broker
/// redelivers what they had taken but not started), and waits for them to exit.
public struct LocalScaler: Sendable {
    public struct Copy: Sendable, Equatable {
        public var index: Int
        public var pid: pid_t
    }

    public var program: String
    public var binaries: URL
    public var runDirectory: URL
    public var logDirectory: URL
    /// What each copy is started with: this process's environment, then the run directory's
    /// `<program>.env` (written by deploy/local/up), so `halfsizectl` needs no settings of its own.
    public var environment: [String: String]
    /// Copy K serves its metrics on 127.0.0.1:(base + K), when set.
    public var metricsPortBase: Int?

    public init(program: String, binaries: URL, runDirectory: URL, logDirectory: URL,
                environment: [String: String], metricsPortBase: Int?) {
        self.program = program
        self.binaries = binaries
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.environment = environment
        self.metricsPortBase = metricsPortBase
    }

    /// Reads `KEY=VALUE` lines (blank lines and `#` comments skipped).
    public static func readEnvironmentFile(_ url: URL) -> [String: String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals]).trimmingCharacters(in: .whitespaces)] = String(line[line.index(after: equals)...])
        }
        return values
    }

    func pidFile(_ index: Int) -> URL { runDirectory.appendingPathComponent("\(program)-\(index).pid") }

    /// The copies whose pid file names a live process running this program.
    public func running() -> [Copy] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        return names.compactMap { name -> Copy? in
            guard name.hasPrefix("\(program)-"), name.hasSuffix(".pid"),
                  let index = Int(name.dropFirst(program.count + 1).dropLast(4)),
                  let text = try? String(contentsOf: pidFile(index), encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), isRunning(pid) else { return nil }
            return Copy(index: index, pid: pid)
        }.sorted { $0.index < $1.index }
    }

    /// Alive and still this program (a pid can be reused after a reboot).
    func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM,
              let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
        return command.split(separator: "\0").first.map { $0.hasSuffix("/\(program)") || $0 == program } ?? false
    }

    /// What `scale` did: a line per change, and how many copies ran before and run now.
    public struct Scaling: Sendable {
        public var changes: [String] = []
        public var before: Int
        public var after: Int
    }

    /// Starts or stops copies until `count` run. A copy started is counted once it runs the
    /// program (up to 5 s); one that exits first is reported with its log, and not started again.
    public func scale(to count: Int, stopTimeout: Duration) throws -> Scaling {
        var copies = running()
        var scaling = Scaling(before: copies.count, after: copies.count)
        var index = 1
        while copies.count < count {
            while copies.contains(where: { $0.index == index }) { index += 1 }
            let pid = try start(index)
            let log = logDirectory.appendingPathComponent("\(program)-\(index).log").path
            guard waitUntilRunning(pid, for: .seconds(5)) else {
                scaling.changes.append("\(program)-\(index) (pid \(pid)) exited as it started; see \(log)")
                try? FileManager.default.removeItem(at: pidFile(index))
                break
            }
            copies.append(Copy(index: index, pid: pid))
            scaling.changes.append("started \(program)-\(index) (pid \(pid), log \(log))")
        }
        let surplus = copies.sorted { $0.index > $1.index }.prefix(max(copies.count - count, 0))
        for copy in surplus { kill(copy.pid, SIGTERM) }
        for copy in surplus {
            let deadline = ContinuousClock.now + stopTimeout
            while isRunning(copy.pid), ContinuousClock.now < deadline { usleep(100_000) }
            if isRunning(copy.pid) {
                kill(copy.pid, SIGKILL)  // nothing is lost: the broker redelivers what it held
                scaling.changes.append("killed \(program)-\(copy.index) (pid \(copy.pid)): it did not stop within \(stopTimeout)")
            } else {
                scaling.changes.append("stopped \(program)-\(copy.index) (pid \(copy.pid))")
            }
            try? FileManager.default.removeItem(at: pidFile(copy.index))
        }
        scaling.after = copies.count - surplus.count
        return scaling
    }

    /// Whether a process just spawned runs the program by `limit` (it is ours until it has
    /// exec'd, and it may exit at once).
    func waitUntilRunning(_ pid: pid_t, for limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while !isRunning(pid) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid || ContinuousClock.now >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// Starts copy `index` in its own session, so it outlives this command and a terminal's
    /// hang-up, with its output appended to its log.
    func start(_ index: Int) throws -> pid_t {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let executable = binaries.appendingPathComponent(program).path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw HalfsizeError(.invalidConfiguration, "no \(program) program at \(executable); build it, or pass --bin-dir")
        }
        var variables = environment
        if let base = metricsPortBase { variables["HALFSIZE_METRICS_ADDR"] = "127.0.0.1:\(base + index)" }
        let log = logDirectory.appendingPathComponent("\(program)-\(index).log").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours is handed on: an inherited pipe would keep whoever reads this
        // command's output waiting for as long as the resizer runs.
        for descriptor in Self.openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Self.spawnNewSession)

        let arguments = [executable]
        let environmentLines = variables.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(environmentLines) { envp in posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        }
        guard status == 0 else {
            throw HalfsizeError(.invalidConfiguration, "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        try "\(pid)\n".write(to: pidFile(index), atomically: true, encoding: .utf8)
        return pid
    }

    static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, since 2.26), which Swift's Glibc module does not
    /// export because spawn.h declares it only under _GNU_SOURCE.
    static let spawnNewSession: Int16 = 0x80

    /// A NULL-terminated array of C strings, alive for the call.
    func withCStrings<Result>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result) -> Result {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }
}
