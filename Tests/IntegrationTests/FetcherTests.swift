import Fetching
import Foundation
import HalfsizeCore
import Logging
import ServiceLifecycle
import TestCorpus
import Testing

/// libcurl against a real local HTTP server: the codes a download can end with.
@Suite("Fetching")
struct FetcherTests {
    func withFetcher(_ settings: FetchSettings, slowDelay: Duration = .seconds(3),
                     _ body: (Fetcher, ImageServer) async throws -> Void) async throws {
        let server = try await ImageServer.start(slowDelay: slowDelay)
        let fetcher = Fetcher(settings: settings, logger: Logger(label: "test"))
        let running = Task { try await fetcher.run() }
        defer {
            running.cancel()
            server.stop()
        }
        try await body(fetcher, server)
    }

    func failure(_ fetcher: Fetcher, _ url: String) async -> FetchFailure? {
        do {
            _ = try await fetcher.fetch(url)
            return nil
        } catch {
            return error as? FetchFailure
        }
    }

    func code(_ fetcher: Fetcher, _ url: String) async -> ErrorCode? { await failure(fetcher, url)?.error.code }

    @Test func downloadsManyAtOnceAndReportsFailures() async throws {
        // The timeout leaves 40 downloads room on a machine busy with the other suites (2.5 s did
        // not, once: the in-process server answered none of a wave in time); the slow answer outlasts it.
        try await withFetcher(FetchSettings(totalTimeoutMilliseconds: 10_000, maximumBytes: 1 << 20, allowPrivateNetworks: true),
                              slowDelay: .seconds(15)) { fetcher, server in
            let expected = try Data(contentsOf: Corpus.root.appendingPathComponent("j20_squirrel_0.2mp.jpg"))
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await fetcher.fetch(server.url("corpus/j20_squirrel_0.2mp.jpg")).bytes.count } }
                for try await count in group { #expect(count == expected.count) }
            }
            // What a later attempt cannot change is permanent; what it may is transient.
            for (path, code, kind) in [("corpus/nope.jpg", ErrorCode.httpStatus, FetchFailure.Kind.permanent),
                                       ("corpus/j02_seeding_16mp.jpg", .downloadTooLarge, .permanent),
                                       ("slow/j20_squirrel_0.2mp.jpg", .downloadTimeout, .transient)] {
                let failure = await failure(fetcher, server.url(path))
                #expect(failure?.error.code == code && failure?.kind == kind, "\(path): \(String(describing: failure))")
            }
            let refused = await failure(fetcher, "http://127.0.0.1:1/x.jpg")
            #expect(refused?.error.code == .downloadFailed && refused?.kind == .transient, "\(String(describing: refused))")
        }
    }

    @Test func suppliersFlakinessIsTransientAndRetryAfterIsRead() async throws {
        let supplier = try SupplierServer.start()
        defer { supplier.stop() }
        try await withFetcher(FetchSettings(allowPrivateNetworks: true)) { fetcher, _ in
            let flaky = supplier.url("flaky/fetcher/j20_squirrel_0.2mp.jpg")
            var seen: [String] = []
            for _ in 0..<5 {
                if let failure = await failure(fetcher, flaky) {
                    seen.append("\(failure.error.code.rawValue):\(failure.kind):\(failure.retryAfter.map { "\($0)" } ?? "-")")
                    // 429 puts the host in a cool-down: requests to it are not made until it ends.
                    if failure.kind == .throttled { try await Task.sleep(for: failure.retryAfter ?? .seconds(1)) }
                } else {
                    seen.append("ok")
                }
                if seen.last?.hasPrefix("http_status:transient:1") == true {
                    let throttled = await failure(fetcher, supplier.url("ok/j20_squirrel_0.2mp.jpg"))
                    #expect(throttled?.kind == .throttled && (throttled?.retryAfter ?? .zero) > .zero, "\(String(describing: throttled))")
                    try await Task.sleep(for: .milliseconds(1100))
                }
            }
            #expect(seen == ["http_status:transient:-", "http_status:transient:-", "http_status:transient:1.0 seconds",
                             "download_failed:transient:-", "ok"], "\(seen)")
            #expect(try await supplier.requests()["/ok/j20_squirrel_0.2mp.jpg"] == nil, "a cooling host is not asked")
            for (path, code) in [("missing/a.jpg", ErrorCode.httpStatus), ("forbidden/a.jpg", .httpStatus)] {
                let failure = await failure(fetcher, supplier.url(path))
                #expect(failure?.error.code == code && failure?.kind == .permanent, "\(path)")
            }
            #expect(RetryAfter.parse("120") == .seconds(120))
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(RetryAfter.parse("Fri, 15 Jan 2027 08:00:30 GMT", now: now) == .seconds(30))
            #expect(RetryAfter.parse("soon") == nil)
        }
    }

    @Test func holdsAtMostTheHostLimitInFlight() async throws {
        try await withFetcher(FetchSettings(totalTimeoutMilliseconds: 30_000, maximumTransfersPerHost: 6, allowPrivateNetworks: true)) { fetcher, server in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<24 { group.addTask { try await fetcher.fetch(server.url("held/j20_squirrel_0.2mp.jpg")).bytes.count } }
                for try await count in group { #expect(count > 0) }
            }
            #expect(server.peakHeldRequests == 6, "\(server.peakHeldRequests) downloads were in flight to one host at once")
        }
    }

    @Test func holdsAtLeast32DownloadsInFlight() async throws {
        // The server holds each request half a second and counts how many it holds at once. The
        // timeout is generous: on a loaded machine the server itself may be slow to answer.
        try await withFetcher(FetchSettings(totalTimeoutMilliseconds: 30_000, maximumTransfersPerHost: 64, allowPrivateNetworks: true)) { fetcher, server in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await fetcher.fetch(server.url("held/j20_squirrel_0.2mp.jpg")).bytes.count } }
                for try await count in group { #expect(count > 0) }
            }
            #expect(server.peakHeldRequests >= 32, "at most \(server.peakHeldRequests) downloads were in flight at once")
        }
    }

    @Test func refusesLoopbackAndPrivateAddressesUnlessAllowed() async throws {
        try await withFetcher(FetchSettings(allowPrivateNetworks: false)) { fetcher, server in
            // Only loopback is dialled here; the other ranges are checked by rule below, without traffic.
            for url in [server.url("corpus/j20_squirrel_0.2mp.jpg"), "http://localhost:\(server.port)/corpus/x.jpg",
                        "http://[::1]:\(server.port)/x"] {
                do {
                    _ = try await fetcher.fetch(url)
                    Issue.record("\(url) was fetched")
                } catch let failure as FetchFailure {
                    #expect(failure.error.code == .blockedAddress && failure.kind == .permanent, "\(url): \(failure)")
                }
            }
            #expect(await code(fetcher, "ftp://127.0.0.1/x.jpg") == .downloadFailed)
        }
    }

    /// Every hostile form is refused by the address guard before a connection is made: the guard
    /// sees the address curl resolved, whatever notation the URL used.
    @Test func refusesSeventyHostileURLForms() async throws {
        let hosts = [
            // IPv4 loopback in every notation getaddrinfo accepts
            "127.0.0.1", "127.1", "127.0.1", "0x7f000001", "2130706433", "017700000001", "0x7f.0.0.1", "0177.0.0.1",
            "127.255.255.254", "localhost", "LOCALHOST", "0.0.0.0", "0", "0x0",
            // private, link-local (cloud metadata), carrier-grade NAT
            "10.0.0.1", "10.255.255.254", "012.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.0.1", "192.168.255.254",
            "0xc0a80001", "3232235521", "169.254.169.254", "169.254.0.1", "0xa9fea9fe", "2852039166", "100.64.0.1", "100.127.255.254",
            // IANA special-purpose IPv4: IETF, documentation, benchmarking, AS112, AMT, 6to4 relay, multicast, reserved
            "192.0.0.1", "192.0.0.170", "192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1", "198.19.255.254",
            "192.31.196.1", "192.52.193.1", "192.88.99.1", "192.175.48.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
            "255.255.255.255",
            // IPv6 loopback, unspecified, mapped and compatible IPv4, SIIT
            "[::1]", "[0:0:0:0:0:0:0:1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:10.0.0.1]",
            "[::ffff:169.254.169.254]", "[::ffff:c0a8:1]", "[::7f00:1]", "[::a00:1]", "[::127.0.0.1]", "[::ffff:0:7f00:1]",
            // NAT64, discard, Teredo and the rest of 2001::/23, documentation, 6to4 of private addresses, AS112
            "[64:ff9b::7f00:1]", "[64:ff9b::808:808]", "[64:ff9b:1::1]", "[100::1]", "[2001::1]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
            "[2001:2::1]", "[2001:10::1]", "[2001:20::1]", "[2001:db8::1]", "[3fff::1]", "[2002:7f00:1::1]", "[2002:a00:1::1]",
            "[2002:c0a8:1::1]", "[2620:4f:8000::1]",
            // unique local, link-local, site-local, multicast, other space outside 2000::/3
            "[fc00::1]", "[fd12:3456::1]", "[fe80::1]", "[febf::1]", "[fec0::1]", "[feff::1]", "[ff02::1]", "[ff05::2]", "[5f00::1]",
            "[4000::1]",
        ]
        #expect(hosts.count >= 70)
        try await withFetcher(FetchSettings(connectTimeoutMilliseconds: 2000, totalTimeoutMilliseconds: 4000, allowPrivateNetworks: false)) { fetcher, _ in
            try await withThrowingTaskGroup(of: (String, FetchFailure?).self) { group in
                for host in hosts {
                    group.addTask { (host, await failure(fetcher, "http://\(host):8080/image.jpg")) }
                }
                for try await (host, failure) in group {
                    #expect(failure?.error.code == .blockedAddress, "\(host): \(String(describing: failure))")
                }
            }
        }
    }

    @Test func addressRule() {
        for blocked in ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fd00::1",
                        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "64:ff9b::808:808", "2001:db8::1",
                        "::7f00:1", "2002:7f00:1::1", "2001::1", "fec0::1", "100::1", "192.88.99.1", "localhost"] {
            #expect(!AddressPolicy.isPublic(blocked), "\(blocked)")
        }
        for allowed in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1",
                        "2a00:1450:4001::1"] {
            #expect(AddressPolicy.isPublic(allowed), "\(allowed)")
        }
    }
}
