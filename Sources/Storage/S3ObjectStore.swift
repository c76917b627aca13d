import CCurl
import CHalfsizeShims
import Foundation
import HalfsizeCore
import NIOPosix
import Synchronization

/// Where an S3-compatible service is and how to sign for it. The keys are never logged nor put
/// in an error message.
public struct S3Settings: Sendable {
    public enum Addressing: String, Sendable {
        /// `https://ENDPOINT/BUCKET/KEY`: works with every S3-compatible server.
        case path
        /// `https://BUCKET.ENDPOINT/KEY`: what AWS prefers for new buckets.
        case virtualHosted = "virtual"
    }

    public var endpoint: URL
    public var bucket: String
    public var region: String
    public var accessKeyID: String
    public var secretAccessKey: String
    public var addressing: Addressing
    /// Requests to the store at once: the blocking transfers run on a pool of this many threads.
    public var connections: Int
    /// Longest one request may take (a 50 MB original on a slow link included).
    public var requestTimeout: Duration

    public init(endpoint: URL, bucket: String, region: String, accessKeyID: String, secretAccessKey: String,
                addressing: Addressing = .path, connections: Int = 16, requestTimeout: Duration = .seconds(120)) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.addressing = addressing
        self.connections = connections
        self.requestTimeout = requestTimeout
    }

    /// The URL of a key (or of the bucket itself, for an empty key), with `query` appended.
    func url(key: String, query: String = "") -> String {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        let encodedKey = key.split(separator: "/", omittingEmptySubsequences: false).map { S3Text.percentEncoded(String($0)) }.joined(separator: "/")
        // The bucket itself has no trailing slash: servers sign "/BUCKET", not "/BUCKET/".
        switch addressing {
        case .path: path += key.isEmpty ? "/\(bucket)" : "/\(bucket)/\(encodedKey)"
        case .virtualHosted:
            components.host = "\(bucket).\(components.host ?? "")"
            path += "/\(encodedKey)"
        }
        components.percentEncodedPath = path
        var text = components.string!
        if !query.isEmpty { text += "?\(query)" }
        return text
    }
}

/// Objects in an S3-compatible bucket, through libcurl's own AWS Signature Version 4
/// (`CURLOPT_AWS_SIGV4`). Every request carries `x-amz-content-sha256`, the payload's SHA-256, as
/// S3 requires. Transfers block, so they run on a thread pool of their own (never Swift's
/// cooperative threads); each thread keeps its connections open between requests. A transient
/// answer (5xx, `SlowDown`, a connection that failed or timed out) is tried again a few times
/// here; what still fails is a `storage_error`, which the stages retry as a fault of ours.
public final class S3ObjectStore: ObjectStore {
    public let settings: S3Settings
    let threads: NIOThreadPool
    /// Idle easy handles: reusing one reuses its open connection to the store.
    let idleHandles = Mutex<[S3Handle]>([])
    static let attempts = 4

    public init(settings: S3Settings) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        self.settings = settings
        threads = NIOThreadPool(numberOfThreads: settings.connections)
        threads.start()
    }

    deinit {
        threads.shutdownGracefully { _ in }
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        try ObjectKey.check(key)
        let response = try await perform(S3Request(method: "PUT", url: settings.url(key: key), body: bytes))
        guard response.status == 200 else { throw response.refusal("store \(key)") }
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        try ObjectKey.check(key)
        let response = try await perform(S3Request(method: "GET", url: settings.url(key: key)))
        switch response.status {
        case 200: return response.body
        case 404 where response.errorCode != "NoSuchBucket": return nil
        default: throw response.refusal("read \(key)")
        }
    }

    /// Removes keys a thousand at a time with DeleteObjects (which requires a Content-MD5).
    public func delete(_ keys: [String]) async throws {
        for key in keys { try ObjectKey.check(key) }
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            let objects = batch.map { "<Object><Key>\(S3Text.xmlEscaped($0))</Key></Object>" }.joined()
            let body = Array("<Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            let response = try await perform(S3Request(method: "POST", url: settings.url(key: "", query: "delete="), body: body,
                                                       headers: ["Content-Type: application/xml", "Content-MD5: \(S3Digest.md5Base64(body))"]))
            guard response.status == 200 else { throw response.refusal("delete \(batch.count) objects") }
            // Each key that could not be deleted comes back in an <Error> element (some servers
            // also list the deleted ones, whatever Quiet says).
            if let failure = S3Text.values(of: "Error", in: response.body).first {
                let key = S3Text.values(of: "Key", in: Array(failure.utf8)).first ?? "?"
                let reason = S3Text.values(of: "Message", in: Array(failure.utf8)).first ?? "no reason given"
                throw HalfsizeError(.storageError, "S3 did not delete \(key): \(reason)")
            }
        }
    }

    /// Lists every object (ListObjectsV2, a thousand keys a page) per kind. S3 has no free space.
    public func usage() async throws -> StorageUsage {
        var usage = StorageUsage()
        for kind in ["uploads", "raw", "images", "output"] {
            var bytes: Int64 = 0, count = 0
            var continuation: String?
            repeat {
                // In name order: libcurl 7.88 signs the query as written, S3 sorts it.
                var query = "list-type=2&prefix=\(S3Text.percentEncoded(kind + "/"))"
                if let continuation { query = "continuation-token=\(S3Text.percentEncoded(continuation))&" + query }
                let response = try await perform(S3Request(method: "GET", url: settings.url(key: "", query: query)))
                guard response.status == 200 else { throw response.refusal("list \(kind)/") }
                let sizes = S3Text.values(of: "Size", in: response.body).compactMap { Int64($0) }
                bytes += sizes.reduce(0, +)
                count += sizes.count
                continuation = S3Text.values(of: "IsTruncated", in: response.body).first == "true"
                    ? S3Text.values(of: "NextContinuationToken", in: response.body).first : nil
            } while continuation != nil
            usage.bytes[kind] = bytes
            usage.objects[kind] = count
        }
        return usage
    }

    /// Checks that the bucket answers to these keys: a missing bucket or a refused key is an
    /// `invalid_configuration` error at start (the store being down is a `storage_error`, worth waiting for).
    public func checkBucket() async throws {
        let response = try await perform(S3Request(method: "HEAD", url: settings.url(key: "")))
        switch response.status {
        case 200: return
        case 404: throw HalfsizeError(.invalidConfiguration, "the bucket \(settings.bucket) does not exist at \(settings.endpoint.absoluteString) (HALFSIZE_S3_BUCKET)")
        case 301, 400: throw HalfsizeError(.invalidConfiguration, "the bucket \(settings.bucket) answered \(response.status): check HALFSIZE_S3_REGION (\(settings.region)) and HALFSIZE_S3_ADDRESSING")
        case 401, 403: throw HalfsizeError(.invalidConfiguration, "the store refused our keys for bucket \(settings.bucket) (\(response.status)): check HALFSIZE_S3_ACCESS_KEY_ID and HALFSIZE_S3_SECRET_ACCESS_KEY")
        default: throw response.refusal("reach bucket \(settings.bucket)")
        }
    }

    /// Creates the bucket (for tests and local set-ups; operators create production buckets).
    public func createBucket() async throws {
        let response = try await perform(S3Request(method: "PUT", url: settings.url(key: ""), body: []))
        guard response.status == 200 || response.errorCode == "BucketAlreadyOwnedByYou" else { throw response.refusal("create bucket \(settings.bucket)") }
    }

    /// Runs a request on the store's threads, trying a transient failure again after 0.2, 0.4, 0.8 s.
    func perform(_ request: S3Request) async throws -> S3Response {
        var attempt = 1
        while true {
            do {
                let response = try await threads.runIfActive { [self] in
                    let handle = idleHandles.withLock { $0.popLast() } ?? S3Handle()
                    defer { idleHandles.withLock { $0.append(handle) } }
                    return try handle.perform(request, settings: settings)
                }
                if !response.isTransient || attempt == Self.attempts { return response }
            } catch where attempt < Self.attempts {}  // the last attempt's error is thrown
            try await Task.sleep(for: .milliseconds(100 << attempt))
            attempt += 1
        }
    }
}

struct S3Request: Sendable {
    var method: String
    var url: String
    /// Sent when set (an empty body is still a body: Content-Length 0).
    var body: [UInt8]? = nil
    var headers: [String] = []
}

struct S3Response: Sendable {
    var status: Int
    var body: [UInt8]

    /// S3's error code (`SlowDown`, `NoSuchKey`, `SignatureDoesNotMatch`…), from the XML error body.
    var errorCode: String? { S3Text.values(of: "Code", in: body).first }

    var isTransient: Bool { status >= 500 || status == 429 || errorCode == "SlowDown" || errorCode == "RequestTimeout" }

    func refusal(_ action: String) -> HalfsizeError {
        let message = S3Text.values(of: "Message", in: body).first.map { ": \($0)" } ?? ""
        return HalfsizeError(.storageError, "S3 could not \(action): \(status) \(errorCode ?? "")\(message)")
    }
}

/// One libcurl easy handle, used by one thread at a time.
final class S3Handle: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer?
    var received: [UInt8] = []

    init() { easy = curl_easy_init() }
    deinit { curl_easy_cleanup(easy) }

    func perform(_ request: S3Request, settings: S3Settings) throws(HalfsizeError) -> S3Response {
        guard let easy else { throw HalfsizeError(.outOfMemory, "cannot allocate an S3 transfer") }
        curl_easy_reset(easy)
        received = []
        let payload = request.body ?? []
        // A body gets a content type of ours (libcurl's default, a form, is parsed and re-signed
        // differently by some servers). No header is removed with an empty "Name:" line: libcurl
        // 7.88 lists such a header as signed without sending it, and the signature fails.
        var lines = request.headers + ["x-amz-content-sha256: \(S3Digest.sha256Hex(payload))"]
        if request.body != nil, !lines.contains(where: { $0.lowercased().hasPrefix("content-type:") }) {
            lines.append("Content-Type: application/octet-stream")
        }
        var headerList: UnsafeMutablePointer<curl_slist>?
        for line in lines { headerList = curl_slist_append(headerList, line) }
        defer { curl_slist_free_all(headerList) }
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(hs_curl_set_string(easy, CURLOPT_URL, request.url))
        set(hs_curl_set_string(easy, CURLOPT_CUSTOMREQUEST, request.method == "HEAD" ? nil : request.method))
        set(hs_curl_set_long(easy, CURLOPT_NOBODY, request.method == "HEAD" ? 1 : 0))
        set(hs_curl_set_string(easy, CURLOPT_AWS_SIGV4, "aws:amz:\(settings.region):s3"))
        set(hs_curl_set_string(easy, CURLOPT_USERNAME, settings.accessKeyID))
        set(hs_curl_set_string(easy, CURLOPT_PASSWORD, settings.secretAccessKey))
        set(hs_curl_set_long(easy, CURLOPT_NOSIGNAL, 1))
        set(hs_curl_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(hs_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 10_000))
        set(hs_curl_set_long(easy, CURLOPT_TIMEOUT_MS, Int(settings.requestTimeout.inMilliseconds)))
        // Bodies over 1 MB ask "Expect: 100-continue" first; do not wait long for a server that never answers it.
        set(hs_curl_set_long(easy, CURLOPT_EXPECT_100_TIMEOUT_MS, 200))
        set(hs_curl_set_pointer(easy, CURLOPT_HTTPHEADER, headerList))
        set(hs_curl_set_write_function(easy, s3Write, Unmanaged.passUnretained(self).toOpaque()))
        if request.body != nil { set(hs_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count))) }
        guard code == CURLE_OK else {
            throw HalfsizeError(.storageError, "cannot set up an S3 request: \(String(cString: curl_easy_strerror(code)))")
        }
        code = payload.withUnsafeBytes { bytes in
            if request.body != nil {
                // COPYPOSTFIELDS would copy; the bytes outlive the transfer, which ends in this closure.
                _ = hs_curl_set_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
            return curl_easy_perform(easy)
        }
        guard code == CURLE_OK else {
            // No answer at all: down, unreachable, timed out. Worth another try.
            return S3Response(status: 599, body: Array("<Error><Code>Unreachable</Code><Message>\(S3Text.xmlEscaped(String(cString: curl_easy_strerror(code))))</Message></Error>".utf8))
        }
        var status = 0
        _ = hs_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return S3Response(status: status, body: received)
    }
}

private func s3Write(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let data, let context else { return 0 }
    let handle = Unmanaged<S3Handle>.fromOpaque(context).takeUnretainedValue()
    handle.received.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}
