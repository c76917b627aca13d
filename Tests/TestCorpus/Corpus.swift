import Foundation

/// The shared test images: `HALFSIZE_TEST_CORPUS` when set (deploy/local/test sets it), else
/// `../shared/corpus` beside the project root.
public enum Corpus {
    public static let root: URL = {
        if let configured = ProcessInfo.processInfo.environment["HALFSIZE_TEST_CORPUS"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }()

    /// The JPEG and PNG files of a folder of the corpus ("" for the top level), sorted by name.
    public static func files(_ folder: String = "") -> [URL] {
        let directory = folder.isEmpty ? root : root.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Every JPEG and PNG of the corpus and its pitfalls, as paths relative to the corpus.
    public static let images: [String] = files().map(\.lastPathComponent) + files("pitfalls").map { "pitfalls/\($0.lastPathComponent)" }

    public static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
    public static func bytes(_ relative: String) throws -> [UInt8] { try bytes(root.appendingPathComponent(relative)) }
}
