import Fetching
import Foundation
import HalfsizeCore
import Logging
import TestCorpus
import Testing

/// https against a local TLS server whose certificates a test CA made by openssl signed.
extension FetcherTests {
    static let expectedProblems: [(server: String, words: String)] = [
        ("expired", "has expired"), ("selfsigned", "is self-signed"), ("otherhost", "for another host name"),
    ]

    @Test func httpsIsVerifiedAndEachCertificateProblemIsNamed() async throws {
        let certificates = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates) }
        let names = ["good"] + Self.expectedProblems.map(\.server)
        let servers = try SupplierServer.start(tls: names.map { TestCertificates.pair(certificates, $0) })
        defer { servers.stop() }
        let port = Dictionary(uniqueKeysWithValues: zip(names, servers.ports))
        func url(_ name: String) -> String { "https://127.0.0.1:\(port[name]!)/ok/j20_squirrel_0.2mp.jpg" }
        let expected = try Data(contentsOf: Corpus.root.appendingPathComponent("j20_squirrel_0.2mp.jpg"))

        // Without the private CA the good server is not trusted either: verification is on by default.
        try await withFetcher(FetchSettings(allowPrivateNetworks: true)) { fetcher, _ in
            let untrusted = await failure(fetcher, url("good"))
            #expect(untrusted?.error.code == .tlsError)
            #expect(untrusted?.error.message.contains("not trusted") == true, "\(String(describing: untrusted))")
            #expect(untrusted?.kind == .permanent)
        }
        let bundle = certificates.appendingPathComponent("ca.pem").path
        try await withFetcher(FetchSettings(allowPrivateNetworks: true, extraCertificateAuthorities: bundle)) { fetcher, _ in
            let fetched = try await fetcher.fetch(url("good"))
            #expect(fetched.bytes == Array(expected))
            for (server, words) in Self.expectedProblems {
                let refused = await failure(fetcher, url(server))
                #expect(refused?.error.code == .tlsError, "\(server)")
                #expect(refused?.error.message.contains(words) == true, "\(server): \(String(describing: refused?.error.message))")
                #expect(refused?.kind == .permanent, "\(server)")
            }
        }
    }
}

extension PipelineTests {
    /// With HALFSIZE_CA_BUNDLE the downloader halves images from a private-CA https server, and
    /// each certificate problem fails its image with tls_error naming it.
    @Test func httpsImagesAreHalvedAndCertificateProblemsFailWithTLSError() async throws {
        let certificates = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certificates) }
        let names = ["good"] + FetcherTests.expectedProblems.map(\.server)
        let servers = try SupplierServer.start(tls: names.map { TestCertificates.pair(certificates, $0) })
        defer { servers.stop() }
        let port = Dictionary(uniqueKeysWithValues: zip(names, servers.ports))
        try await withSystem(extra: ["HALFSIZE_CA_BUNDLE": certificates.appendingPathComponent("ca.pem").path]) { _, system in
            var csv = "S. No.,Product Name,Input Image Urls\n"
            csv += "1,Good,\"https://127.0.0.1:\(port["good"]!)/ok/j20_squirrel_0.2mp.jpg, https://localhost:\(port["good"]!)/ok/p03_photo_fruits_512.png\"\n"
            for (index, name) in FetcherTests.expectedProblems.map(\.server).enumerated() {
                csv += "\(index + 2),\(name),https://127.0.0.1:\(port[name]!)/ok/j20_squirrel_0.2mp.jpg\n"
            }
            let (_, report) = try await runJob(csv, system: system)
            #expect(report["status"] as? String == "completed_with_errors")
            #expect((report["images"] as? [String: Int])?["resized"] == 2)
            #expect((report["formats"] as? [String: Int]) == ["jpeg": 1, "png": 1])
            let errors = try #require(report["errors"] as? [[String: Any]])
            #expect(errors.map { $0["code"] as? String } == ["tls_error", "tls_error", "tls_error"])
            for (error, expected) in zip(errors, FetcherTests.expectedProblems) {
                #expect((error["message"] as? String)?.contains(expected.words) == true, "\(error)")
                #expect(error["attempts"] as? Int == 1, "a certificate problem is not tried again")
            }
        }
    }
}
