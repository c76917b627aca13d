import CCurl
import CHalfsizeShims
import Foundation
import HalfsizeCore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

public struct FetchSettings: Sendable {
    public var connectTimeoutMilliseconds: Int
    public var totalTimeoutMilliseconds: Int
    public var maximumBytes: Int
    public var maximumRedirects: Int
    public var maximumConcurrentTransfers: Int
    /// Transfers to one host at once; more wait their turn in the fetcher.
    public var maximumTransfersPerHost: Int
    public var allowPrivateNetworks: Bool
    public var userAgent: String
    /// A transfer slower than `lowSpeedBytesPerSecond` for `lowSpeedSeconds` is a `download_timeout`.
    public var lowSpeedBytesPerSecond: Int
    public var lowSpeedSeconds: Int
    /// The longest `Retry-After` honoured; longer ones are cut to it.
    public var maximumRetryAfter: Duration
    /// A PEM file of private CAs trusted besides the system's (`HALFSIZE_CA_BUNDLE`).
    public var extraCertificateAuthorities: String?

    public init(connectTimeoutMilliseconds: Int = 10_000, totalTimeoutMilliseconds: Int = 60_000,
                maximumBytes: Int = 50 << 20, maximumRedirects: Int = 5, maximumConcurrentTransfers: Int = 64,
                maximumTransfersPerHost: Int = 8, allowPrivateNetworks: Bool = false, userAgent: String = "halfsize/1.0",
                lowSpeedBytesPerSecond: Int = 1024, lowSpeedSeconds: Int = 15, maximumRetryAfter: Duration = .seconds(300),
                extraCertificateAuthorities: String? = nil) {
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.maximumBytes = maximumBytes
        self.maximumRedirects = maximumRedirects
        self.maximumConcurrentTransfers = maximumConcurrentTransfers
        self.maximumTransfersPerHost = maximumTransfersPerHost
        self.allowPrivateNetworks = allowPrivateNetworks
        self.userAgent = userAgent
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
        self.lowSpeedSeconds = lowSpeedSeconds
        self.maximumRetryAfter = maximumRetryAfter
        self.extraCertificateAuthorities = extraCertificateAuthorities
    }

    /// The system's CA certificates as a hashed directory (Debian's `ca-certificates`), used with
    /// `extraCertificateAuthorities` so that the private CAs add to them rather than replace them.
    public static let systemCertificateDirectory = "/etc/ssl/certs"
}

/// Why a download did not bring an image, and whether trying again later may help.
public struct FetchFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Other 4xx, blocked address, too large, bad URL: requested once, never again.
        case permanent
        /// Timeouts, resets, refusals, 408/425/429/5xx: worth another attempt.
        case transient
        /// No request was made: the host asked us to slow down (429) and is cooling down.
        case throttled
    }

    public var error: HalfsizeError
    public var kind: Kind
    /// When the server said to come back (`Retry-After`, capped), or the host's cool-down.
    public var retryAfter: Duration?
    /// The HTTP status of a response that was not a success; nil when none came.
    public var statusCode: Int?

    public init(error: HalfsizeError, kind: Kind, retryAfter: Duration? = nil, statusCode: Int? = nil) {
        self.error = error
        self.kind = kind
        self.retryAfter = retryAfter
        self.statusCode = statusCode
    }

    public var description: String { "\(error) (\(kind))" }
}

public struct FetchedResource: Sendable {
    public var statusCode: Int
    public var bytes: [UInt8]
    public var contentType: String?
    public var finalURL: String
}

/// What the fetcher sends: a GET for an image, a POST for a webhook.
public struct OutboundRequest: Sendable {
    public var url: String
    /// Sent as a POST when set.
    public var body: [UInt8]?
    /// Whole header lines, `Name: value`.
    public var headers: [String]
    public var followRedirects: Bool

    public static func get(_ url: String, headers: [String] = []) -> OutboundRequest {
        OutboundRequest(url: url, body: nil, headers: headers, followRedirects: true)
    }

    /// A POST that is not redirected: a redirect answer counts as a failed delivery.
    public static func post(_ url: String, body: [UInt8], headers: [String]) -> OutboundRequest {
        OutboundRequest(url: url, body: body, headers: headers, followRedirects: false)
    }
}

/// Turns libcurl's codes into thrown errors: the one place that reads them.
enum CurlStatus {
    static func check(_ code: CURLcode, _ context: @autoclosure () -> String) throws(HalfsizeError) {
        guard code != CURLE_OK else { return }
        throw HalfsizeError(.downloadFailed, "\(context()): \(String(cString: curl_easy_strerror(code)))")
    }
}

/// Downloads over HTTP(S) with libcurl's multi interface: one thread drives every transfer at
/// once (up to `maximumConcurrentTransfers`), so a slow server never holds a worker thread.
/// Every connection, redirects included, passes the address guard before it is opened.
public final class Fetcher: Service, Sendable {
    final class Request: Sendable {
        let outbound: OutboundRequest
        var url: String { outbound.url }
        /// The host the per-host limit and cool-down apply to (lowercased; the URL itself when unparsable).
        let host: String
        let continuation: CheckedContinuation<FetchedResource, any Error>
        init(_ outbound: OutboundRequest, continuation: CheckedContinuation<FetchedResource, any Error>) {
            self.outbound = outbound
            self.host = URLComponents(string: outbound.url)?.host?.lowercased() ?? outbound.url
            self.continuation = continuation
        }
    }

    struct Shared: Sendable {
        var requests: [Request] = []
        var stopping = false
        var running = false
    }

    public let settings: FetchSettings
    let shared = Mutex(Shared())
    let logger: Logger
    /// The multi handle: created here, used only by the transfer thread, freed in deinit.
    nonisolated(unsafe) let multi: UnsafeMutableRawPointer

    public init(settings: FetchSettings, logger: Logger) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        self.settings = settings
        self.logger = logger
        multi = curl_multi_init()
        hs_curlm_set_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, settings.maximumConcurrentTransfers)
        hs_curlm_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, settings.maximumTransfersPerHost)
    }

    deinit { curl_multi_cleanup(multi) }

    /// Downloads `url`.
    public func fetch(_ url: String) async throws -> FetchedResource {
        try await send(.get(url))
    }

    /// Sends a request; a 2xx answer is returned. Throws `FetchFailure` for what the server or
    /// the address did, and `HalfsizeError` when the fetcher itself is stopping (a fault of ours:
    /// try again elsewhere).
    public func send(_ outbound: OutboundRequest) async throws -> FetchedResource {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = shared.withLock { shared -> Bool in
                guard !shared.stopping else { return false }
                shared.requests.append(Request(outbound, continuation: continuation))
                return true
            }
            if accepted {
                curl_multi_wakeup(multi)
            } else {
                continuation.resume(throwing: HalfsizeError(.brokerUnavailable, "the downloader is shutting down"))
            }
        }
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        runTransferThread()
                        finished.resume()
                    }
                    thread.name = "curl-multi"
                    thread.start()
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    private func stop() {
        shared.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    // MARK: - Transfer thread

    private func runTransferThread() {
        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        var waiting = HostQueue()
        while true {
            let (incoming, stopping) = shared.withLock { shared in
                defer { shared.requests.removeAll() }
                return (shared.requests, shared.stopping)
            }
            waiting.append(contentsOf: incoming)
            if stopping {
                // Transfers in flight end; their callers see an error of ours and try again later.
                let error = HalfsizeError(.brokerUnavailable, "the downloader stopped before the transfer finished")
                for request in waiting.removeAll() { request.continuation.resume(throwing: error) }
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.request.continuation.resume(throwing: error)
                }
                return
            }
            let now = ContinuousClock.now
            for request in waiting.removeCoolingDown(now: now) {
                request.continuation.resume(throwing: FetchFailure(
                    error: HalfsizeError(.httpStatus, "\(request.host) asked us to slow down (HTTP 429); not requested"),
                    kind: .throttled, retryAfter: waiting.coolDown(of: request.host, now: now)))
            }
            while active.count < settings.maximumConcurrentTransfers,
                  let request = waiting.popFirst(limitPerHost: settings.maximumTransfersPerHost) {
                do {
                    let transfer = try Transfer(request: request, settings: settings)
                    active[transfer.easy] = transfer
                    curl_multi_add_handle(multi, transfer.easy)
                } catch {
                    waiting.finished(request.host)
                    request.continuation.resume(throwing: FetchFailure(error: error, kind: .permanent))
                }
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = active.removeValue(forKey: easy) else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                waiting.finished(transfer.request.host)
                let outcome = transfer.outcome(code, maximumRetryAfter: settings.maximumRetryAfter)
                if case .failure(let failure) = outcome, failure.error.code == .httpStatus, transfer.status == 429 {
                    waiting.startCoolDown(of: transfer.request.host, for: failure.retryAfter ?? .seconds(5), now: .now)
                }
                transfer.request.continuation.resume(with: outcome.mapError { $0 as any Error })
            }
            curl_multi_poll(multi, nil, 0, waiting.isEmpty ? 1000 : 100, nil)
        }
    }
}

/// Requests waiting for a transfer slot, with the per-host bookkeeping: how many transfers each
/// host has in flight, and the hosts cooling down after a 429 (only their requests wait; other
/// hosts go on). Used by the transfer thread alone.
struct HostQueue {
    private var requests: [Fetcher.Request] = []
    private var inFlight: [String: Int] = [:]
    private var coolingUntil: [String: ContinuousClock.Instant] = [:]

    var isEmpty: Bool { requests.isEmpty }

    mutating func append(contentsOf incoming: [Fetcher.Request]) { requests.append(contentsOf: incoming) }

    mutating func removeAll() -> [Fetcher.Request] {
        defer { requests.removeAll() }
        return requests
    }

    /// The first request whose host is below the limit, counted as in flight.
    mutating func popFirst(limitPerHost: Int) -> Fetcher.Request? {
        guard let index = requests.firstIndex(where: { inFlight[$0.host, default: 0] < limitPerHost }) else { return nil }
        let request = requests.remove(at: index)
        inFlight[request.host, default: 0] += 1
        return request
    }

    mutating func finished(_ host: String) {
        inFlight[host, default: 1] -= 1
        if inFlight[host] == 0 { inFlight[host] = nil }
    }

    mutating func startCoolDown(of host: String, for duration: Duration, now: ContinuousClock.Instant) {
        coolingUntil[host] = max(coolingUntil[host] ?? now, now + duration)
    }

    func coolDown(of host: String, now: ContinuousClock.Instant) -> Duration {
        max(.zero, (coolingUntil[host] ?? now) - now)
    }

    /// Takes out the requests for hosts still cooling down; forgets cool-downs that are over.
    mutating func removeCoolingDown(now: ContinuousClock.Instant) -> [Fetcher.Request] {
        coolingUntil = coolingUntil.filter { $0.value > now }
        guard !coolingUntil.isEmpty else { return [] }
        let cooling = requests.filter { coolingUntil[$0.host] != nil }
        requests.removeAll { coolingUntil[$0.host] != nil }
        return cooling
    }
}

/// One transfer: its easy handle and the buffers libcurl writes into, all freed in deinit.
final class Transfer {
    let request: Fetcher.Request
    let easy: UnsafeMutableRawPointer
    let guardState: UnsafeMutablePointer<hs_address_guard>
    let errorBuffer: UnsafeMutablePointer<CChar>
    /// The request's header lines, owned here because libcurl keeps only the pointer.
    var headerList: UnsafeMutablePointer<curl_slist>?
    let maximumBytes: Int
    var body: [UInt8] = []
    var exceededLimit = false

    init(request: Fetcher.Request, settings: FetchSettings) throws(HalfsizeError) {
        guard let easy = curl_easy_init() else { throw HalfsizeError(.outOfMemory, "cannot allocate a transfer") }
        self.request = request
        self.easy = easy
        self.maximumBytes = settings.maximumBytes
        guardState = .allocate(capacity: 1)
        guardState.initialize(to: hs_address_guard())
        guardState.pointee.allow_private = settings.allowPrivateNetworks ? 1 : 0
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))

        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_URL, request.url), "invalid URL \(request.url)")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "cannot limit protocols")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "cannot limit redirect protocols")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_FOLLOWLOCATION, request.outbound.followRedirects ? 1 : 0), "cannot follow redirects")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_MAXREDIRS, settings.maximumRedirects), "cannot bound redirects")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds), "cannot set timeouts")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_TIMEOUT_MS, settings.totalTimeoutMilliseconds), "cannot set timeouts")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_NOSIGNAL, 1), "cannot disable signals")
        try CurlStatus.check(hs_curl_set_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(settings.maximumBytes)), "cannot cap the size")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_USERAGENT, settings.userAgent), "cannot set the user agent")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_ACCEPT_ENCODING, ""), "cannot accept compression")
        // HTTP/2 when the server offers it over TLS (Debian's libcurl has nghttp2); SNI is always sent.
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS), "cannot allow HTTP/2")
        if let authorities = settings.extraCertificateAuthorities {
            // libcurl verifies peers and host names by default; CAINFO and CAPATH are both searched.
            try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_CAINFO, authorities), "cannot use HALFSIZE_CA_BUNDLE")
            try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_CAPATH, FetchSettings.systemCertificateDirectory), "cannot use the system CAs")
        }
        // An empty proxy turns off http_proxy and friends: the address guard checks the image
        // server itself, never a proxy that would connect on our behalf.
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_PROXY, ""), "cannot turn proxies off")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedBytesPerSecond), "cannot set the low-speed limit")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_LOW_SPEED_TIME, settings.lowSpeedSeconds), "cannot set the low-speed limit")
        try CurlStatus.check(hs_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "cannot set the error buffer")
        try CurlStatus.check(hs_curl_install_address_guard(easy, guardState), "cannot install the address guard")
        if let body = request.outbound.body {
            try CurlStatus.check(hs_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "cannot set the body size")
            // COPYPOSTFIELDS: libcurl keeps its own copy of the body.
            try CurlStatus.check(body.withUnsafeBytes { hs_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) },
                                 "cannot set the body")
        }
        for line in request.outbound.headers {
            guard let appended = curl_slist_append(headerList, line) else { throw HalfsizeError(.outOfMemory, "cannot add a header") }
            headerList = appended
        }
        if let headerList {
            try CurlStatus.check(hs_curl_set_pointer(easy, CURLOPT_HTTPHEADER, headerList), "cannot set the headers")
        }
        try CurlStatus.check(hs_curl_set_write_function(easy, transferWrite, Unmanaged.passUnretained(self).toOpaque()),
                             "cannot set the write function")
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        guardState.deallocate()
        errorBuffer.deallocate()
    }

    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maximumBytes else {
            exceededLimit = true
            return false
        }
        if body.isEmpty {
            // Room for the whole body at once when its length is announced (growing the buffer
            // copied each image several times). A curl_off_t is a `long` on 64-bit Linux.
            var announced = -1
            if hs_curl_get_long(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK, announced > 0 {
                body.reserveCapacity(min(announced, maximumBytes))
            }
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// The HTTP status of the last response (0 before any).
    var status: Int {
        var status = 0
        _ = hs_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return status
    }

    func outcome(_ code: CURLcode, maximumRetryAfter: Duration) -> Result<FetchedResource, FetchFailure> {
        recordMetrics(code)
        return Result { () throws(FetchFailure) in try result(code, maximumRetryAfter: maximumRetryAfter) }
    }

    /// Every transfer's time and bytes, and its answer by class: `2xx` … `5xx`, or `blocked` and
    /// `failed` when no HTTP answer came.
    func recordMetrics(_ code: CURLcode) {
        let status = self.status
        let answer = guardState.pointee.blocked != 0 ? "blocked" : status >= 100 ? "\(status / 100)xx" : "failed"
        Counter(label: "halfsize_download_responses_total", dimensions: [("class", answer)]).increment()
        Counter(label: "halfsize_download_bytes_total").increment(by: body.count)
        // CURLINFO_TOTAL_TIME_T is a curl_off_t, which is `long` on the 64-bit Linux we build for.
        var microseconds = 0
        if hs_curl_get_long(easy, CURLINFO_TOTAL_TIME_T, &microseconds) == CURLE_OK {
            Metrics.Timer(label: "halfsize_download_seconds").record(duration: .microseconds(microseconds))
        }
    }

    private func result(_ code: CURLcode, maximumRetryAfter: Duration) throws(FetchFailure) -> FetchedResource {
        if guardState.pointee.blocked != 0 {
            let address = withUnsafeBytes(of: guardState.pointee.blocked_address) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw FetchFailure(error: HalfsizeError(.blockedAddress, "refused to connect to \(address): loopback, private, link-local and other special-purpose addresses are not downloaded (set HALFSIZE_ALLOW_PRIVATE_NETWORKS=true to allow them)"), kind: .permanent)
        }
        if exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            throw FetchFailure(error: HalfsizeError(.downloadTooLarge, "the response is larger than the \(maximumBytes) byte limit"), kind: .permanent)
        }
        if Self.tlsCodes.contains(code) {
            let detail = String(cString: errorBuffer)
            throw FetchFailure(error: HalfsizeError(.tlsError, TLSProblem.explain(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)),
                               kind: code == CURLE_SSL_CONNECT_ERROR ? .transient : .permanent)
        }
        if code == CURLE_OPERATION_TIMEDOUT {
            throw FetchFailure(error: HalfsizeError(.downloadTimeout, "the download timed out or stalled: \(String(cString: errorBuffer))"), kind: .transient)
        }
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            let error = HalfsizeError(.downloadFailed, detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
            throw FetchFailure(error: error, kind: Self.transientCodes.contains(code) ? .transient : .permanent)
        }
        let status = self.status
        guard (200..<300).contains(status) else {
            let error = HalfsizeError(.httpStatus, "the server answered HTTP \(status) \(HTTPReason.phrase(status))")
            guard Self.transientStatuses.contains(status) else { throw FetchFailure(error: error, kind: .permanent, statusCode: status) }
            throw FetchFailure(error: error, kind: .transient, retryAfter: retryAfter().map { min($0, maximumRetryAfter) }, statusCode: status)
        }
        var contentType: UnsafePointer<CChar>?
        _ = hs_curl_get_string(easy, CURLINFO_CONTENT_TYPE, &contentType)
        var effective: UnsafePointer<CChar>?
        _ = hs_curl_get_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
        return FetchedResource(statusCode: status, bytes: body, contentType: contentType.map { String(cString: $0) },
                               finalURL: effective.map { String(cString: $0) } ?? request.url)
    }

    /// Failures a later attempt may not meet: the connection, not the request, went wrong.
    static let transientCodes: Set<CURLcode> = [
        CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
        CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_SSL_CONNECT_ERROR,
    ]
    static let transientStatuses: Set<Int> = [408, 425, 429, 500, 502, 503, 504]
    /// TLS failures: the certificate (permanent) or the handshake (`CURLE_SSL_CONNECT_ERROR`, transient).
    static let tlsCodes: Set<CURLcode> = [
        CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE,
        CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
    ]

    /// The response's `Retry-After`, in seconds or as an HTTP date.
    private func retryAfter() -> Duration? {
        var header: UnsafeMutablePointer<curl_header>?
        guard curl_easy_header(easy, "Retry-After", 0, UInt32(CURLH_HEADER), -1, &header) == CURLHE_OK,
              let value = header?.pointee.value else { return nil }
        return RetryAfter.parse(String(cString: value))
    }
}

/// A TLS failure in words a person can act on, with libcurl's own message after it.
public enum TLSProblem {
    public static func explain(_ detail: String) -> String {
        let lowered = detail.lowercased()
        let problem = if lowered.contains("expired") {
            "the server's certificate has expired"
        } else if lowered.contains("self-signed") || lowered.contains("self signed") {
            "the server's certificate is self-signed, not issued by a trusted authority"
        } else if lowered.contains("subject name") || lowered.contains("does not match") || lowered.contains("no alternative") {
            "the server's certificate is for another host name"
        } else if lowered.contains("local issuer") || lowered.contains("unknown ca") || lowered.contains("issuer certificate") {
            "the server's certificate is issued by an authority that is not trusted (a private CA goes in HALFSIZE_CA_BUNDLE)"
        } else if lowered.contains("not yet valid") {
            "the server's certificate is not valid yet"
        } else {
            "the secure connection (TLS) failed"
        }
        return "\(problem) (\(detail))"
    }
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`.
public enum RetryAfter {
    public static func parse(_ text: String, now: Date = Date()) -> Duration? {
        let value = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(value) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
    }
}

private func transferWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return transfer.append(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

enum HTTPReason {
    static func phrase(_ status: Int) -> String {
        switch status {
        case 301: "Moved Permanently"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 410: "Gone"
        case 425: "Too Early"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}

/// The address rule the download guard applies to every connection, for checks and tests.
public enum AddressPolicy {
    /// True when an IPv4 or IPv6 literal is publicly routable; false for loopback, private,
    /// link-local, carrier-grade NAT, multicast, documentation and reserved ranges, and non-literals.
    public static func isPublic(_ literal: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, literal, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { hs_address_is_public($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 4) } == 1
        }
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { hs_address_is_public($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 16) } == 1
        }
        return false
    }
}
