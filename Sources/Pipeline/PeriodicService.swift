import Logging
import ServiceLifecycle

/// Runs `pass` every `interval` until graceful shutdown. A failed pass is logged and the next one
/// runs as usual: the relay and the reaper keep going through an outage and catch up after it.
public struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    let pass: @Sendable () async throws -> Void

    public init(name: String, every interval: Duration, logger: Logger, pass: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            do {
                try await pass()
            } catch {
                logger.warning("\(name) pass failed; trying again in \(interval)", metadata: [
                    "error": "\(error)",
                ])
            }
        }
    }
}
