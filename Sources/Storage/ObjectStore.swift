import Foundation
import HalfsizeCore
import NIOPosix

/// Where uploads, downloaded originals, resized images and output CSVs live, by key
/// (`uploads/REF.csv`, `raw/REF/NAME`, `images/REF/NAME`, `output/REF.csv`). The local directory
/// is one implementation; S3-compatible storage is another behind the same interface.
public protocol ObjectStore: Sendable {
    /// Stores bytes under a key, replacing what was there; readers never see a partial object.
    func put(_ key: String, _ bytes: [UInt8]) async throws
    /// The bytes under a key, or nil when there are none.
    func get(_ key: String) async throws -> [UInt8]?
    /// Removes the objects under these keys; keys with nothing under them are fine.
    func delete(_ keys: [String]) async throws
}

public enum ObjectKey {
    public static func upload(_ reference: JobReference) -> String { "uploads/\(reference).csv" }
    public static func raw(_ reference: JobReference, name: String) -> String { "raw/\(reference)/\(name)" }
    public static func image(_ reference: JobReference, name: String) -> String { "images/\(reference)/\(name)" }
    public static func output(_ reference: JobReference) -> String { "output/\(reference).csv" }

    /// A generated file name, never taken from the product: `r<row>-<position>.<extension>`.
    public static func imageName(row: Int, position: Int, extension fileExtension: String) -> String {
        "r\(row)-\(position).\(fileExtension)"
    }

    /// True for names `imageName` can produce: the only names the image route serves.
    public static func isImageName(_ name: String) -> Bool {
        name.range(of: #"^r[0-9]{1,9}-[0-9]{1,6}\.(jpg|png)$"#, options: .regularExpression) != nil
    }
}

/// Objects as files under a directory. Writes go to a temporary file renamed into place, so a
/// crash never leaves a half-written object. File I/O runs on NIO's blocking-I/O thread pool.
public struct LocalDirectoryStore: ObjectStore {
    public let root: URL

    public init(root: URL) throws(HalfsizeError) {
        self.root = root.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
        } catch {
            throw HalfsizeError(.storageError, "cannot create the data directory \(root.path): \(error.localizedDescription)")
        }
    }

    func fileURL(_ key: String) throws(HalfsizeError) -> URL {
        guard !key.isEmpty, !key.hasPrefix("/"), !key.split(separator: "/").contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw HalfsizeError(.storageError, "invalid object key \(key)")
        }
        return root.appendingPathComponent(key)
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        let url = try fileURL(key)
        try await NIOThreadPool.singleton.runIfActive {
            let directory = url.deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
            do {
                try Data(bytes).write(to: temporary)
                guard rename(temporary.path, url.path) == 0 else {
                    throw HalfsizeError(.storageError, "cannot move \(temporary.path) into place: \(String(cString: strerror(errno)))")
                }
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                throw error
            }
        }
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        let url = try fileURL(key)
        return try await NIOThreadPool.singleton.runIfActive {
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            return try [UInt8](Data(contentsOf: url))
        }
    }

    /// Removes the files, then each folder they leave empty (a job's `raw/REF/`, `images/REF/`).
    public func delete(_ keys: [String]) async throws {
        let urls = try keys.map { key throws(HalfsizeError) in try fileURL(key) }
        let root = self.root
        try await NIOThreadPool.singleton.runIfActive {
            for url in urls where unlink(url.path) != 0 && errno != ENOENT {
                throw HalfsizeError(.storageError, "cannot delete \(url.path): \(String(cString: strerror(errno)))")
            }
            for directory in Set(urls.map { $0.deletingLastPathComponent().path }) where directory != root.path {
                _ = rmdir(directory)  // only succeeds when empty; a folder still in use stays
            }
        }
    }
}
