import CCurl
import CHalfsizeShims
import Foundation
import HalfsizeCore
import Logging
import ServiceLifecycle
import Synchronization

public struct FetchSettings: Sendable {
    public var connectTimeoutMilliseconds: Int
    public var totalTimeoutMilliseconds: Int
    public var maximumBytes: Int
    public var maximumRedirects: Int
    public var maximumConcurrentTransfers: Int
    public var allowPrivateNetworks: Bool
    public var userAgent: String

    public init(connectTimeoutMilliseconds: Int = 10_000, totalTimeoutMilliseconds: Int = 60_000,
                maximumBytes: Int = 50 << 20, maximumRedirects: Int = 5, maximumConcurrentTransfers: Int = 64,
                allowPrivateNetworks: Bool = false, userAgent: String = "halfsize/1.0") {
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.maximumBytes = maximumBytes
        self.maximumRedirects = maximumRedirects
        self.maximumConcurrentTransfers = maximumConcurrentTransfers
        self.allowPrivateNetworks = allowPrivateNetworks
        self.userAgent = userAgent
    }
}

public struct FetchedResource: Sendable {
    public var bytes: [UInt8]
    public var contentType: String?
    public var finalURL: String
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
        let url: String
        let continuation: CheckedContinuation<FetchedResource, any Error>
        init(url: String, continuation: CheckedContinuation<FetchedResource, any Error>) {
            self.url = url
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
    }

    deinit { curl_multi_cleanup(multi) }

    public func fetch(_ url: String) async throws -> FetchedResource {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = shared.withLock { shared -> Bool in
                guard !shared.stopping else { return false }
                shared.requests.append(Request(url: url, continuation: continuation))
                return true
            }
            if accepted {
                curl_multi_wakeup(multi)
            } else {
                continuation.resume(throwing: HalfsizeError(.downloadFailed, "the downloader is shutting down"))
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
        var waiting: [Request] = []
        while true {
            let (incoming, stopping) = shared.withLock { shared in
                defer { shared.requests.removeAll() }
                return (shared.requests, shared.stopping)
            }
            waiting.append(contentsOf: incoming)
            if stopping {
                // Transfers in flight end; their callers see an error and the broker redelivers.
                let error = HalfsizeError(.downloadFailed, "the downloader stopped before the transfer finished")
                for request in waiting { request.continuation.resume(throwing: error) }
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.request.continuation.resume(throwing: error)
                }
                return
            }
            while active.count < settings.maximumConcurrentTransfers, !waiting.isEmpty {
                let request = waiting.removeFirst()
                do {
                    let transfer = try Transfer(request: request, settings: settings)
                    active[transfer.easy] = transfer
                    curl_multi_add_handle(multi, transfer.easy)
                } catch {
                    request.continuation.resume(throwing: error)
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
                transfer.finish(code)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}

/// One transfer: its easy handle and the buffers libcurl writes into, all freed in deinit.
final class Transfer {
    let request: Fetcher.Request
    let easy: UnsafeMutableRawPointer
    let guardState: UnsafeMutablePointer<hs_address_guard>
    let errorBuffer: UnsafeMutablePointer<CChar>
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
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_FOLLOWLOCATION, 1), "cannot follow redirects")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_MAXREDIRS, settings.maximumRedirects), "cannot bound redirects")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds), "cannot set timeouts")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_TIMEOUT_MS, settings.totalTimeoutMilliseconds), "cannot set timeouts")
        try CurlStatus.check(hs_curl_set_long(easy, CURLOPT_NOSIGNAL, 1), "cannot disable signals")
        try CurlStatus.check(hs_curl_set_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(settings.maximumBytes)), "cannot cap the size")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_USERAGENT, settings.userAgent), "cannot set the user agent")
        try CurlStatus.check(hs_curl_set_string(easy, CURLOPT_ACCEPT_ENCODING, ""), "cannot accept compression")
        try CurlStatus.check(hs_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "cannot set the error buffer")
        try CurlStatus.check(hs_curl_install_address_guard(easy, guardState), "cannot install the address guard")
        try CurlStatus.check(hs_curl_set_write_function(easy, transferWrite, Unmanaged.passUnretained(self).toOpaque()),
                             "cannot set the write function")
    }

    deinit {
        curl_easy_cleanup(easy)
        guardState.deallocate()
        errorBuffer.deallocate()
    }

    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maximumBytes else {
            exceededLimit = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func finish(_ code: CURLcode) {
        do {
            request.continuation.resume(returning: try result(code))
        } catch {
            request.continuation.resume(throwing: error)
        }
    }

    private func result(_ code: CURLcode) throws(HalfsizeError) -> FetchedResource {
        if guardState.pointee.blocked != 0 {
            let address = withUnsafeBytes(of: guardState.pointee.blocked_address) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw HalfsizeError(.blockedAddress, "refused to connect to \(address): loopback, private and link-local addresses are not downloaded (set HALFSIZE_ALLOW_PRIVATE_NETWORKS=true to allow them)")
        }
        if exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            throw HalfsizeError(.downloadTooLarge, "the image is larger than the \(maximumBytes) byte limit")
        }
        if code == CURLE_OPERATION_TIMEDOUT {
            throw HalfsizeError(.downloadTimeout, "the download timed out: \(String(cString: errorBuffer))")
        }
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            throw HalfsizeError(.downloadFailed, detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        _ = hs_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        guard (200..<300).contains(status) else {
            throw HalfsizeError(.httpStatus, "the server answered HTTP \(status) \(HTTPReason.phrase(status))")
        }
        var contentType: UnsafePointer<CChar>?
        _ = hs_curl_get_string(easy, CURLINFO_CONTENT_TYPE, &contentType)
        var effective: UnsafePointer<CChar>?
        _ = hs_curl_get_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
        return FetchedResource(bytes: body, contentType: contentType.map { String(cString: $0) },
                               finalURL: effective.map { String(cString: $0) } ?? request.url)
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
        case 410: "Gone"
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
