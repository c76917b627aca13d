import CPostgreSQL
import Foundation
import HalfsizeCore
import Synchronization

/// Rows of a query result, as text (libpq's text format); NULL is nil.
public struct QueryRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]

    public var count: Int { rows.count }

    /// The value of `column` in `row`; nil for NULL, an unknown column or a row the result does
    /// not have (`value(0, …)` of an empty result is nil, not a crash).
    public func value(_ row: Int, _ column: String) -> String? {
        guard rows.indices.contains(row), let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }

    public func int(_ row: Int, _ column: String) -> Int64? { value(row, column).flatMap { Int64($0) } }
    public func bool(_ row: Int, _ column: String) -> Bool? { value(row, column).map { $0 == "t" } }
}

/// A database error: the one place that turns libpq's statuses into thrown errors.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public var sqlState: String?
    public var message: String
    /// The connection itself is broken: the statement may be retried on a new one.
    public var connectionLost: Bool

    public var description: String { "\(sqlState.map { "[\($0)] " } ?? "")\(message)" }
    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var asHalfsizeError: HalfsizeError { HalfsizeError(.databaseError, description) }
}

/// What every connection is opened with, because libpq sets no timeouts of its own: a bound
/// on connecting, TCP keepalives (a peer that vanished is noticed within about 20 s) and a
/// statement timeout. Settings given in the database URL win over these.
public struct DatabaseOptions: Sendable, Equatable {
    public var connectTimeoutSeconds: Int
    public var statementTimeoutMilliseconds: Int

    public init(connectTimeoutSeconds: Int = 10, statementTimeoutMilliseconds: Int = 30_000) {
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
    }

    /// libpq keywords and values, in the order PQconnectdbParams reads them.
    var keywords: [(String, String)] {
        [("connect_timeout", String(connectTimeoutSeconds)), ("keepalives", "1"), ("keepalives_idle", "10"),
         ("keepalives_interval", "5"), ("keepalives_count", "2"), ("tcp_user_timeout", "20000"),
         ("options", "-c statement_timeout=\(statementTimeoutMilliseconds)")]
    }
}

/// A statement the hot path runs for every image: parsed and planned once per connection
/// (PQprepare), then only executed (PQexecPrepared).
public struct PreparedStatement: Sendable {
    public let name: String
    public let sql: String

    public init(_ name: String, _ sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// One libpq connection, freed in deinit. libpq connections must not be used by two threads at
/// once; the handle sits behind a lock, and the pool gives each connection to one thread at a time.
public final class PostgresConnection: Sendable {
    struct State {
        let connection: OpaquePointer
        /// The names prepared on this connection (a new connection prepares again).
        var prepared: Set<String> = []
    }
    private let handle: Mutex<State>

    public init(url: String, options: DatabaseOptions = DatabaseOptions()) throws(DatabaseError) {
        guard let connection = Self.connect(url: url, options: options) else {
            throw DatabaseError(sqlState: nil, message: "cannot allocate a database connection", connectionLost: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.lastError(connection)
            PQfinish(connection)
            throw DatabaseError(sqlState: nil, message: "cannot connect to the database: \(message)", connectionLost: true)
        }
        // Server notices (such as "already exists, skipping") would go to stderr unlabelled.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = Mutex(State(connection: connection))
    }

    /// PQconnectdbParams with the options; the URL comes last as an expanded dbname, so what it
    /// says overrides the defaults before it.
    private static func connect(url: String, options: DatabaseOptions) -> OpaquePointer? {
        let pairs = options.keywords + [("dbname", url)]
        let keywords = pairs.map { strdup($0.0) }, values = pairs.map { strdup($0.1) }
        defer { (keywords + values).forEach { free($0) } }
        return PQconnectdbParams(keywords.map { UnsafePointer($0) } + [nil], values.map { UnsafePointer($0) } + [nil], 1)
    }

    deinit { handle.withLock { PQfinish($0.connection) } }

    public var isHealthy: Bool { handle.withLock { PQstatus($0.connection) == CONNECTION_OK } }

    private static func lastError(_ connection: OpaquePointer) -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs one statement with text parameters ($1, $2, …) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(DatabaseError) -> QueryRows {
        try handle.withLock { state throws(DatabaseError) in
            try Self.rows(state.connection, Self.withValues(parameters) { values in
                PQexecParams(state.connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            })
        }
    }

    /// Runs a prepared statement, preparing it first on this connection if need be.
    @discardableResult
    public func execute(_ statement: PreparedStatement, _ parameters: [String?] = []) throws(DatabaseError) -> QueryRows {
        try handle.withLock { state throws(DatabaseError) in
            if !state.prepared.contains(statement.name) {
                try Self.rows(state.connection, PQprepare(state.connection, statement.name, statement.sql, Int32(parameters.count), nil))
                state.prepared.insert(statement.name)
            }
            return try Self.rows(state.connection, Self.withValues(parameters) { values in
                PQexecPrepared(state.connection, statement.name, Int32(parameters.count), values, nil, nil, 0)
            })
        }
    }

    private static func withValues(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> OpaquePointer?) -> OpaquePointer? {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return copies.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// The rows of a result (freed here), or the error it reports.
    @discardableResult
    private static func rows(_ connection: OpaquePointer, _ result: OpaquePointer?) throws(DatabaseError) -> QueryRows {
        defer { PQclear(result) }
        guard let result else {
            throw DatabaseError(sqlState: nil, message: Self.lastError(connection), connectionLost: PQstatus(connection) != CONNECTION_OK)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            break
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw DatabaseError(sqlState: state, message: message.isEmpty ? Self.lastError(connection) : message,
                                connectionLost: PQstatus(connection) != CONNECTION_OK)
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) != 0 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
        return QueryRows(columns: columns, rows: rows)
    }

    /// Runs a script of several statements without parameters (migrations).
    public func runScript(_ sql: String) throws(DatabaseError) {
        try handle.withLock { state throws(DatabaseError) in try Self.runScript(state.connection, sql) }
    }

    private static func runScript(_ connection: OpaquePointer, _ sql: String) throws(DatabaseError) {
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        guard let result, PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK else {
            let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
            throw DatabaseError(sqlState: state, message: Self.lastError(connection), connectionLost: PQstatus(connection) != CONNECTION_OK)
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? query("ROLLBACK") }
            throw error
        }
    }
}

/// Encodes values as PostgreSQL array literals for `unnest($n::type[])` bulk statements.
public enum PostgresArray {
    public static func literal(_ values: [String]) -> String {
        "{" + values.map { value in
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }

    public static func literal<I: BinaryInteger>(_ values: [I]) -> String {
        "{" + values.map { String($0) }.joined(separator: ",") + "}"
    }
}
