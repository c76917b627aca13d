/// Stable error codes: the same strings appear in logs, the status API and the database.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    // Input CSV
    case emptyFile = "empty_file"
    case missingHeader = "missing_header"
    case wrongFieldCount = "wrong_field_count"
    case invalidSerialNumber = "invalid_serial_number"
    case duplicateSerialNumber = "duplicate_serial_number"
    case emptyProductName = "empty_product_name"
    case noImageURL = "no_image_url"
    case invalidURL = "invalid_url"
    case malformedCSV = "malformed_csv"
    case tooManyRows = "too_many_rows"
    case tooManyURLs = "too_many_urls"
    case invalidCSV = "invalid_csv"
    case invalidUpload = "invalid_upload"
    case uploadTooLarge = "upload_too_large"
    case invalidWebhookURL = "invalid_webhook_url"
    // Downloads
    case blockedAddress = "blocked_address"
    case httpStatus = "http_status"
    case downloadTimeout = "download_timeout"
    case downloadTooLarge = "download_too_large"
    case downloadFailed = "download_failed"
    case tlsError = "tls_error"
    // Images
    case unsupportedFormat = "unsupported_format"
    case corruptImage = "corrupt_image"
    case tooLarge = "too_large"
    case outOfMemory = "out_of_memory"
    // Infrastructure
    case brokerUnavailable = "broker_unavailable"
    case databaseError = "database_error"
    case storageError = "storage_error"
    case invalidConfiguration = "invalid_configuration"
    case invalidMessage = "invalid_message"
    case deadLettered = "dead_lettered"
    case retriesExhausted = "retries_exhausted"
    case notFound = "not_found"
    case notReady = "not_ready"
    case filesExpired = "files_expired"
    case unauthorized = "unauthorized"
}

/// An error as a value: a stable code and a message a person can act on.
public struct HalfsizeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
