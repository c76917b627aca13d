import Foundation
import HalfsizeCore
import Logging
import NIOPosix
import Synchronization

/// libpq connections used from a private thread pool, so blocking calls never run on Swift's
/// cooperative threads. One thread per connection: a job on the pool takes an idle connection
/// or opens one, and a connection found broken is replaced and the work tried once more.
public final class DatabasePool: Sendable {
    public let url: String
    let options: DatabaseOptions
    let threads: NIOThreadPool
    let idle = Mutex<[PostgresConnection]>([])
    let logger: Logger

    public init(url: String, size: Int, options: DatabaseOptions = DatabaseOptions(), logger: Logger) {
        self.url = url
        self.options = options
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: size)
        threads.start()
    }

    /// Runs `body` with a connection on a pool thread.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await threads.runIfActive { [self] in
            var attempt = 0
            while true {
                attempt += 1
                let connection = try checkOut()
                do {
                    let value = try body(connection)
                    checkIn(connection)
                    return value
                } catch let error as DatabaseError where error.connectionLost && attempt == 1 {
                    logger.warning("database connection lost; retrying on a new one", metadata: ["error": "\(error)"])
                } catch {
                    if connection.isHealthy { checkIn(connection) }
                    throw error
                }
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withConnection { try $0.transaction(body) }
    }

    private func checkOut() throws(DatabaseError) -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }), connection.isHealthy { return connection }
        return try PostgresConnection(url: url, options: options)
    }

    private func checkIn(_ connection: PostgresConnection) {
        guard connection.isHealthy else { return }
        idle.withLock { $0.append(connection) }
    }

    public func shutdown() async throws {
        try await threads.shutdownGracefully()
        idle.withLock { $0.removeAll() }
    }
}
