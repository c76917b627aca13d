import Foundation
import HalfsizeCore
import Storage
import Testing

/// The S3 that deploy/local/test started (moto, checking signatures), or nil.
struct TestS3: Sendable {
    var endpoint: URL
    var accessKeyID: String
    var secretAccessKey: String

    static let current: TestS3? = {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["HALFSIZE_TEST_S3_ENDPOINT"].flatMap(URL.init(string:)),
              let id = environment["HALFSIZE_TEST_S3_ACCESS_KEY_ID"], let secret = environment["HALFSIZE_TEST_S3_SECRET_ACCESS_KEY"] else { return nil }
        return TestS3(endpoint: endpoint, accessKeyID: id, secretAccessKey: secret)
    }()

    func settings(bucket: String = "halfsize", secret: String? = nil, addressing: S3Settings.Addressing = .path) -> S3Settings {
        var endpoint = endpoint
        if addressing == .virtualHosted {
            // BUCKET.localhost resolves to loopback in libcurl, so the bucket can be in the host name.
            var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
            components.host = "localhost"
            endpoint = components.url!
        }
        return S3Settings(endpoint: endpoint, bucket: bucket, region: "us-east-1", accessKeyID: accessKeyID,
                          secretAccessKey: secret ?? secretAccessKey, addressing: addressing, requestTimeout: .seconds(20))
    }

    /// Pipeline programs' settings for this S3.
    var variables: [String: String] {
        ["HALFSIZE_STORAGE": "s3", "HALFSIZE_S3_ENDPOINT": endpoint.absoluteString, "HALFSIZE_S3_BUCKET": "halfsize",
         "HALFSIZE_S3_ACCESS_KEY_ID": accessKeyID, "HALFSIZE_S3_SECRET_ACCESS_KEY": secretAccessKey]
    }
}

enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, s3Path, s3VirtualHosted
    var testDescription: String { rawValue }

    /// A store with nothing in it: a new directory, or a new bucket.
    func emptyStore() async throws -> any ObjectStore {
        let name = "t\(UUID().uuidString.prefix(8).lowercased())"
        switch self {
        case .local:
            return try LocalDirectoryStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("halfsize-store-\(name)"))
        case .s3Path, .s3VirtualHosted:
            let s3 = try #require(TestS3.current, "deploy/local/test starts an S3 for these tests")
            let store = S3ObjectStore(settings: s3.settings(bucket: name, addressing: self == .s3Path ? .path : .virtualHosted))
            try await store.createBucket()
            try await store.checkBucket()
            return store
        }
    }
}

@Suite("Object storage: the same behaviour from the local directory and from S3",
       .enabled(if: TestS3.current != nil, "needs deploy/local/test's S3"))
struct ObjectStoreTests {
    @Test(arguments: StoreBackend.allCases)
    func storesReplacesReadsAndDeletesObjects(_ backend: StoreBackend) async throws {
        let store = try await backend.emptyStore()
        let reference = JobReference.generate()
        let photo = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try await store.put(ObjectKey.raw(reference, name: "r2-1.jpg"), photo)
        try await store.put(ObjectKey.upload(reference), Array("a,b\n".utf8))
        try await store.put(ObjectKey.output(reference), [])
        #expect(try await store.get(ObjectKey.raw(reference, name: "r2-1.jpg")) == photo)
        #expect(try await store.get(ObjectKey.output(reference)) == [], "an empty object is not a missing one")
        #expect(try await store.get(ObjectKey.image(reference, name: "r9-9.jpg")) == nil)

        try await store.put(ObjectKey.upload(reference), Array("replaced\n".utf8))
        #expect(try await store.get(ObjectKey.upload(reference)) == Array("replaced\n".utf8))

        let usage = try await store.usage()
        #expect(usage.objects == ["uploads": 1, "raw": 1, "images": 0, "output": 1])
        #expect(usage.bytes["raw"] == Int64(photo.count))
        #expect(usage.bytes["uploads"] == 9)

        try await store.delete([ObjectKey.raw(reference, name: "r2-1.jpg"), ObjectKey.raw(reference, name: "never-stored.jpg")])
        #expect(try await store.get(ObjectKey.raw(reference, name: "r2-1.jpg")) == nil)
        #expect(try await store.usage().objects["raw"] == 0)
    }

    @Test(arguments: StoreBackend.allCases)
    func manyWritersAtOnceAndLongListsAreComplete(_ backend: StoreBackend) async throws {
        let store = try await backend.emptyStore()
        let reference = JobReference.generate()
        // More than one page of a listing (1,000) and of a batch delete (1,000) on S3.
        let names = (1...1_100).map { ObjectKey.image(reference, name: ObjectKey.imageName(row: $0, position: 1, extension: "png")) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, key) in names.enumerated() {
                group.addTask { try await store.put(key, Array("image \(index)".utf8)) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.get(names[1_099]) == Array("image 1099".utf8))
        #expect(try await store.usage().objects["images"] == 1_100)
        try await store.delete(names)
        #expect(try await store.usage().objects["images"] == 0)
    }

    @Test(arguments: StoreBackend.allCases)
    func keysThatLeaveTheirPlaceAreRefused(_ backend: StoreBackend) async throws {
        let store = try await backend.emptyStore()
        for key in ["", "/etc/passwd", "raw/../../x", "raw//x", "images/./x"] {
            await #expect(throws: HalfsizeError.self, "\(key)") { try await store.put(key, [1]) }
            await #expect(throws: HalfsizeError.self, "\(key)") { _ = try await store.get(key) }
        }
    }
}

@Suite("S3: signatures, errors and what is sent", .enabled(if: TestS3.current != nil, "needs deploy/local/test's S3"))
struct S3StoreTests {
    let s3 = TestS3.current!

    @Test func aWrongSecretIsRefusedAndNeverShown() async throws {
        let wrong = "wrong-secret-\(UUID().uuidString)"
        let store = S3ObjectStore(settings: s3.settings(secret: wrong))
        let error = try await #require(throws: HalfsizeError.self) { try await store.put("uploads/x.csv", [1, 2, 3]) }
        #expect(error.code == .storageError)
        #expect(error.message.contains("403") && error.message.contains("SignatureDoesNotMatch"), "\(error)")
        #expect(!error.message.contains(wrong) && !error.message.contains(s3.secretAccessKey))
        let atStart = try await #require(throws: HalfsizeError.self) { try await store.checkBucket() }
        #expect(atStart.code == .invalidConfiguration)
        #expect(atStart.message.contains("HALFSIZE_S3_SECRET_ACCESS_KEY"), "\(atStart)")
    }

    @Test func aMissingBucketIsAConfigurationErrorAndAnUnreachableStoreAStorageError() async throws {
        let missing = try await #require(throws: HalfsizeError.self) {
            try await S3ObjectStore(settings: s3.settings(bucket: "no-such-bucket-here")).checkBucket()
        }
        #expect(missing.code == .invalidConfiguration)
        #expect(missing.message.contains("no-such-bucket-here does not exist"), "\(missing)")

        var settings = s3.settings()
        settings.endpoint = URL(string: "http://127.0.0.1:\(try freePort())")!
        let down = try await #require(throws: HalfsizeError.self) { try await S3ObjectStore(settings: settings).get("uploads/x.csv") }
        #expect(down.code == .storageError)
        #expect(down.message.contains("Unreachable"), "\(down)")
    }

    @Test func aSlowDownAnswerIsTriedAgain() async throws {
        let images = try await ImageServer.start()
        defer { images.stop() }
        var settings = s3.settings(bucket: "slowdown")
        settings.endpoint = URL(string: images.url(""))!
        try await S3ObjectStore(settings: settings).put("images/01ARZ3NDEKTSV4RRFFQ69G5FAV/r2-1.jpg", [1, 2, 3])
        #expect(images.webhooks.received("s3-slowdown:/slowdown/images/01ARZ3NDEKTSV4RRFFQ69G5FAV/r2-1.jpg").count == 2)
    }

    @Test func everyRequestCarriesThePayloadHashAndASignature() async throws {
        let images = try await ImageServer.start()
        defer { images.stop() }
        var settings = s3.settings(bucket: "capture")
        settings.endpoint = URL(string: images.url(""))!
        let body = Array("S. No.,Product Name\n1,Mug\n".utf8)
        try await S3ObjectStore(settings: settings).put("uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV.csv", body)
        let request = try #require(images.webhooks.received("s3-capture").first)
        #expect(request.body == body)
        // printf 'S. No.,Product Name\n1,Mug\n' | sha256sum
        #expect(request.headers["x-amz-content-sha256"] == "cdc1780f571b1aa4ab5d75074bf1f63c73936b74594968b64da8004f66f6bb03")
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=\(s3.accessKeyID)/"))
        #expect(authorization.contains("/us-east-1/s3/aws4_request"))
        #expect(authorization.contains("x-amz-content-sha256"), "the hash is signed too: \(authorization)")
        #expect(!authorization.contains(s3.secretAccessKey))
    }
}
