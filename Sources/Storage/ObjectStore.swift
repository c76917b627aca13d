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
    /// What is stored, per top-level kind (`uploads`, `raw`, `images`, `output`), for operators.
    func usage() async throws -> StorageUsage
}

/// How much a store holds, and (where the store can know) how much room is left.
public struct StorageUsage: Codable, Sendable, Equatable {
    public var bytes: [String: Int64]
    public var objects: [String: Int]
    public var freeBytes: Int64?

    public init(bytes: [String: Int64] = [:], objects: [String: Int] = [:], freeBytes: Int64? = nil) {
        self.bytes = bytes
        self.objects = objects
        self.freeBytes = freeBytes
    }

    public var totalBytes: Int64 { bytes.values.reduce(0, +) }

    enum CodingKeys: String, CodingKey { case bytes, objects, freeBytes = "free_bytes" }
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

    /// Refuses a key that could name something outside its place: empty, absolute, or with an
    /// empty, `.` or `..` segment. Every store checks each key with it.
    public static func check(_ key: String) throws(HalfsizeError) {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw HalfsizeError(.storageError, "invalid object key \(key)")
        }
    }

    /// True for names `imageName` can produce: the only names the image route serves.
    public static func isImageName(_ name: String) -> Bool {
        name.range(of: #"^r[0-9]{1,9}-[0-9]{1,6}\.(jpg|png|webp|gif|avif)$"#, options: .regularExpression) != nil
    }
}

/// Objects as files under a directory. Writes go to a temporary file renamed into place, so a
/// crash never leaves a half-written object. File I/O runs on NIO's blocking-I/O thread pool,
/// through POSIX calls: an image is copied once between the file and the caller's bytes.
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
        try ObjectKey.check(key)
        return root.appendingPathComponent(key)
    }

    public func put(_ key: String, _ bytes: [UInt8]) async throws {
        let url = try fileURL(key)
        try await NIOThreadPool.singleton.runIfActive {
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
            var descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor < 0 && errno == ENOENT {
                // The job's folder is made by its first file.
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            }
            guard descriptor >= 0 else { throw Self.failure("cannot create \(temporary.path)") }
            let written = bytes.withUnsafeBytes { buffer -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { return false }
                    offset += count
                }
                return true
            }
            let failure = written ? nil : Self.failure("cannot write \(temporary.path)")
            close(descriptor)
            if let failure {
                unlink(temporary.path)
                throw failure
            }
            guard rename(temporary.path, url.path) == 0 else {
                let failure = Self.failure("cannot move \(temporary.path) into place")
                unlink(temporary.path)
                throw failure
            }
        }
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        let url = try fileURL(key)
        return try await NIOThreadPool.singleton.runIfActive {
            let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                if errno == ENOENT { return nil }
                throw Self.failure("cannot open \(url.path)")
            }
            defer { close(descriptor) }
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw Self.failure("cannot read \(url.path)") }
            // Read straight into the array the caller gets: no intermediate Data.
            var failed = false
            let bytes = [UInt8](unsafeUninitializedCapacity: Int(status.st_size)) { buffer, initialized in
                while initialized < buffer.count {
                    let count = read(descriptor, buffer.baseAddress! + initialized, buffer.count - initialized)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { failed = count < 0; return }
                    initialized += count
                }
            }
            if failed { throw Self.failure("cannot read \(url.path)") }
            return bytes
        }
    }

    static func failure(_ what: String) -> HalfsizeError {
        HalfsizeError(.storageError, "\(what): \(String(cString: strerror(errno)))")
    }

    /// Walks the directory (its cost grows with the files kept; the queue view caches it) and
    /// asks the file system for the room left on its volume.
    public func usage() async throws -> StorageUsage {
        let root = self.root
        return try await NIOThreadPool.singleton.runIfActive {
            var usage = StorageUsage()
            let keys: [URLResourceKey] = [.fileSizeKey, .isRegularFileKey]
            for kind in ["uploads", "raw", "images", "output"] {
                guard let files = FileManager.default.enumerator(at: root.appendingPathComponent(kind), includingPropertiesForKeys: keys) else { continue }
                var bytes: Int64 = 0, count = 0
                for case let file as URL in files {
                    guard let values = try? file.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else { continue }
                    bytes += Int64(values.fileSize ?? 0)
                    count += 1
                }
                usage.bytes[kind] = bytes
                usage.objects[kind] = count
            }
            var volume = statvfs()
            if statvfs(root.path, &volume) == 0 { usage.freeBytes = Int64(volume.f_bavail) * Int64(volume.f_frsize) }
            return usage
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
