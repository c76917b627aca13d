// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "halfsize",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ingest", targets: ["ingest"]),
        .executable(name: "downloader", targets: ["downloader"]),
        .executable(name: "resizer", targets: ["resizer"]),
        .executable(name: "csv-writer", targets: ["csv-writer"]),
        .executable(name: "halfsizectl", targets: ["halfsizectl"]),
        // What reads untrusted bytes (CSV and multipart uploads, stage messages, images), for Fuzz/.
        .library(name: "HalfsizeParsers", targets: ["HalfsizeCore", "ProductCSV", "ImageCodecs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        // C libraries, each behind its own module.
        .systemLibrary(name: "CPostgreSQL", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebpmux", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The one C target: typed wrappers for variadic functions and every setjmp/longjmp span.
        .target(
            name: "CHalfsizeShims",
            dependencies: ["CRabbitMQ", "CCurl", "CJPEG", "CPNG", "CDeflate", "CWebP"],
            cSettings: [.unsafeFlags(["-O2"])],
            // pkg-config names one of libwebp's three libraries, and giflib has no pkg-config file:
            // the others, libtiff and libavif, are linked here (their headers are in /usr/include).
            linkerSettings: [.linkedLibrary("webpdemux"), .linkedLibrary("webpmux"), .linkedLibrary("webp"), .linkedLibrary("gif"), .linkedLibrary("tiff"), .linkedLibrary("avif")]
        ),

        // Libraries, one concern each.
        .target(name: "HalfsizeCore", dependencies: [
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The process's Prometheus registry and what every HTTP listener shares (JSON errors, the
        // admin guard, the metrics endpoint).
        .target(name: "HTTPCommon", dependencies: [
            "HalfsizeCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "ProductCSV", dependencies: [
            "HalfsizeCore",
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "Messaging", dependencies: [
            "HalfsizeCore", "CRabbitMQ", "CHalfsizeShims",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "JobStore", dependencies: [
            "HalfsizeCore", "CPostgreSQL",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "Fetching", dependencies: [
            "HalfsizeCore", "CCurl", "CHalfsizeShims",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Parses untrusted bytes: built with every bounds check (no -Ounchecked).
        .target(name: "ImageCodecs", dependencies: ["HalfsizeCore", "CHalfsizeShims", "CJPEG", "CPNG"]),
        // The local directory and S3-compatible storage (libcurl's SigV4, libcrypto's digests).
        .target(name: "Storage", dependencies: ["HalfsizeCore", "CCurl", "CHalfsizeShims", "CCrypto", .product(name: "NIOPosix", package: "swift-nio")]),
        .target(name: "Pipeline", dependencies: [
            "HalfsizeCore", "ProductCSV", "Messaging", "JobStore", "Fetching", "ImageCodecs", "Storage", "HTTPCommon", "CCrypto",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "Operations", dependencies: ["HalfsizeCore", "JobStore", "Messaging", "Storage"]),
        .target(name: "HTTPAPI", dependencies: [
            "HalfsizeCore", "ProductCSV", "Messaging", "JobStore", "Storage", "Pipeline", "Operations", "HTTPCommon", "ImageCodecs",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Templates"), .copy("OpenAPI")]),

        // Thin executables: read configuration, build the services, run them.
        .executableTarget(name: "ingest", dependencies: ["HTTPAPI", "Pipeline"]),
        .executableTarget(name: "downloader", dependencies: ["Pipeline"]),
        .executableTarget(name: "resizer", dependencies: ["Pipeline"]),
        .executableTarget(name: "csv-writer", dependencies: ["Pipeline"]),
        // The operator's terminal: the queue view and scaling the local resizers.
        .executableTarget(name: "halfsizectl", dependencies: [
            "HalfsizeCore", "Operations",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "HalfsizeCoreTests", dependencies: ["HalfsizeCore", "ProductCSV", "Messaging", "TestCorpus"]),
        .target(name: "CImageFixtures", dependencies: ["CJPEG", "CWebP"], path: "Tests/CImageFixtures",
                linkerSettings: [.linkedLibrary("webpmux"), .linkedLibrary("webp"), .linkedLibrary("gif"), .linkedLibrary("tiff"), .linkedLibrary("avif")]),
        .target(name: "TestCorpus", dependencies: ["CImageFixtures", "ImageCodecs"], path: "Tests/TestCorpus"),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "HalfsizeCore", "TestCorpus", "CImageFixtures"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "HalfsizeCore", "JobStore", "Pipeline", "ImageCodecs", "Fetching", "ProductCSV", "TestCorpus", "Messaging", "CImageFixtures", "Operations", "HTTPAPI", "HTTPCommon", "Storage",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ]
)
