import Foundation
import HalfsizeCore

/// Which object store a process uses, read from `HALFSIZE_STORAGE` and, for S3, the
/// `HALFSIZE_S3_*` settings. Every process of one system must use the same store.
public enum StorageSettings: Sendable {
    case local(directory: URL)
    case s3(S3Settings)

    public init(reading reader: ConfigurationReader) {
        let kind = reader.string("HALFSIZE_STORAGE", default: "local",
                                 "where files live: local (HALFSIZE_DATA_DIR, one machine or a shared volume) or s3 (HALFSIZE_S3_*)")
        let directory = URL(fileURLWithPath: reader.string("HALFSIZE_DATA_DIR", default: ".data/files",
                                                           "directory for uploads, originals, resized images and output CSVs when HALFSIZE_STORAGE=local"))
        let endpoint = reader.string("HALFSIZE_S3_ENDPOINT", default: "",
                                     "the S3-compatible service, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000")
        let bucket = reader.string("HALFSIZE_S3_BUCKET", default: "", "the bucket every file goes to (created beforehand)")
        let region = reader.string("HALFSIZE_S3_REGION", default: "us-east-1", "the region requests are signed for")
        let accessKeyID = reader.string("HALFSIZE_S3_ACCESS_KEY_ID", default: "", "the access key id requests are signed with")
        let secret = reader.string("HALFSIZE_S3_SECRET_ACCESS_KEY", default: "", "the secret access key (never logged)")
        let addressing = reader.string("HALFSIZE_S3_ADDRESSING", default: "path",
                                       "path (ENDPOINT/BUCKET/KEY) or virtual (BUCKET.ENDPOINT/KEY)")
        let connections = reader.integer("HALFSIZE_S3_CONNECTIONS", default: 16, in: 1...256,
                                         "requests to the store at once, per process")
        switch kind {
        case "local":
            self = .local(directory: directory)
        case "s3":
            var problems: [String] = []
            let endpointURL = URL(string: endpoint)
            if endpointURL?.host == nil || !["http", "https"].contains(endpointURL?.scheme?.lowercased() ?? "") {
                problems.append("HALFSIZE_S3_ENDPOINT must be an http or https URL, not \"\(endpoint)\"")
            }
            // S3's bucket naming rules: 3–63 lowercase letters, digits, dots and hyphens.
            if bucket.range(of: #"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"#, options: .regularExpression) == nil {
                problems.append("HALFSIZE_S3_BUCKET must be a bucket name (3–63 lowercase letters, digits, dots, hyphens), not \"\(bucket)\"")
            }
            if region.isEmpty { problems.append("HALFSIZE_S3_REGION must not be empty") }
            if accessKeyID.isEmpty || secret.isEmpty {
                problems.append("HALFSIZE_S3_ACCESS_KEY_ID and HALFSIZE_S3_SECRET_ACCESS_KEY must both be set")
            }
            let parsedAddressing = S3Settings.Addressing(rawValue: addressing)
            if parsedAddressing == nil { problems.append("HALFSIZE_S3_ADDRESSING must be path or virtual, not \"\(addressing)\"") }
            problems.forEach(reader.reportProblem)
            guard problems.isEmpty, let endpointURL, let parsedAddressing else {
                self = .local(directory: directory)
                return
            }
            self = .s3(S3Settings(endpoint: endpointURL, bucket: bucket, region: region, accessKeyID: accessKeyID,
                                  secretAccessKey: secret, addressing: parsedAddressing, connections: connections))
        default:
            reader.reportProblem("HALFSIZE_STORAGE must be local or s3, not \"\(kind)\"")
            self = .local(directory: directory)
        }
    }

    /// The store, checked: a local directory that can be created, or a bucket that answers to
    /// our keys. An S3 service that cannot be reached is a `storage_error` (worth waiting for);
    /// a missing bucket or refused keys an `invalid_configuration` one.
    public func makeStore() async throws -> any ObjectStore {
        switch self {
        case .local(let directory):
            return try LocalDirectoryStore(root: directory)
        case .s3(let settings):
            let store = S3ObjectStore(settings: settings)
            try await store.checkBucket()
            return store
        }
    }

    /// For logs: where files go, without any key.
    public var description: String {
        switch self {
        case .local(let directory): "local directory \(directory.path)"
        case .s3(let settings): "S3 bucket \(settings.bucket) at \(settings.endpoint.absoluteString) (\(settings.addressing.rawValue)-style)"
        }
    }
}
