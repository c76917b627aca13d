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
    func withFetcher(_ settings: FetchSettings, _ body: (Fetcher, ImageServer) async throws -> Void) async throws {
        let server = try await ImageServer.start(slowDelay: .seconds(3))
        let fetcher = Fetcher(settings: settings, logger: Logger(label: "test"))
        let running = Task { try await fetcher.run() }
        defer {
            running.cancel()
            server.stop()
        }
        try await body(fetcher, server)
    }

    func code(_ fetcher: Fetcher, _ url: String) async -> ErrorCode? {
        do {
            _ = try await fetcher.fetch(url)
            return nil
        } catch {
            return (error as? HalfsizeError)?.code
        }
    }

    @Test func downloadsManyAtOnceAndReportsFailures() async throws {
        try await withFetcher(FetchSettings(totalTimeoutMilliseconds: 2500, maximumBytes: 1 << 20, allowPrivateNetworks: true)) { fetcher, server in
            let expected = try Data(contentsOf: Corpus.root.appendingPathComponent("j20_squirrel_0.2mp.jpg"))
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await fetcher.fetch(server.url("corpus/j20_squirrel_0.2mp.jpg")).bytes.count } }
                for try await count in group { #expect(count == expected.count) }
            }
            #expect(await code(fetcher, server.url("corpus/nope.jpg")) == .httpStatus)
            #expect(await code(fetcher, server.url("corpus/j02_seeding_16mp.jpg")) == .downloadTooLarge)
            #expect(await code(fetcher, server.url("slow/j20_squirrel_0.2mp.jpg")) == .downloadTimeout)
            #expect(await code(fetcher, "http://127.0.0.1:1/x.jpg") == .downloadFailed)
        }
    }

    @Test func holdsAtLeast32DownloadsInFlight() async throws {
        // The server holds each request half a second and counts how many it holds at once. The
        // timeout is generous: on a loaded machine the server itself may be slow to answer.
        try await withFetcher(FetchSettings(totalTimeoutMilliseconds: 30_000, allowPrivateNetworks: true)) { fetcher, server in
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
                } catch let error as HalfsizeError {
                    #expect(error.code == .blockedAddress, "\(url): \(error)")
                }
            }
            #expect(await code(fetcher, "ftp://127.0.0.1/x.jpg") == .downloadFailed)
        }
    }

    @Test func addressRule() {
        for blocked in ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fd00::1",
                        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2001:db8::1", "localhost"] {
            #expect(!AddressPolicy.isPublic(blocked), "\(blocked)")
        }
        for allowed in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            #expect(AddressPolicy.isPublic(allowed), "\(allowed)")
        }
    }
}
