// swift-tools-version: 6.1
// libFuzzer targets for what reads untrusted bytes. Built and run by deploy/local/fuzz, with
// `--sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address`: libFuzzer supplies main, so these
// executables build only that way, which is why they live outside the main package.
import PackageDescription

let parsers: [Target.Dependency] = [.product(name: "HalfsizeParsers", package: "halfsize")]

let package = Package(
    name: "halfsize-fuzz",
    dependencies: [.package(name: "halfsize", path: "..")],
    targets: [
        .executableTarget(name: "FuzzCSV", dependencies: parsers),
        .executableTarget(name: "FuzzMultipart", dependencies: parsers),
        .executableTarget(name: "FuzzStageMessage", dependencies: parsers),
        .executableTarget(name: "FuzzHalve", dependencies: parsers),
    ]
)
