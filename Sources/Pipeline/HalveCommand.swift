import Foundation
import HalfsizeCore
import ImageCodecs
import Storage

/// `resizer halve [--out DIR] [--quality N] FILE…`: the resize code path on local files. Prints a
/// line per file and a summary; the exit status is non-zero when any file failed.
public enum HalveCommand {
    public static func run(files: [String], outputDirectory: URL, options: HalvingOptions) -> Int32 {
        guard !files.isEmpty else {
            FileHandle.standardError.write(Data("usage: resizer halve [--out DIR] [--quality N] FILE…\n".utf8))
            return 2
        }
        try? FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        var failures = 0, bytesIn = 0, bytesOut = 0, pixelsIn = 0
        var seconds = 0.0
        for path in files {
            let url = URL(fileURLWithPath: path)
            guard let input = readFile(path) else {
                print("\(path)\tFAILED\tstorage_error: cannot read the file")
                failures += 1
                continue
            }
            let start = ContinuousClock.now
            do {
                let halved = try Halver.halve(input, options: options)
                let elapsed = ContinuousClock.now - start
                let stem = url.deletingPathExtension().lastPathComponent
                let output = outputDirectory.appendingPathComponent("\(stem).\(halved.format.fileExtension)")
                try Data(halved.bytes).write(to: output)
                let milliseconds = elapsed.milliseconds
                seconds += milliseconds / 1000
                bytesIn += input.count
                bytesOut += halved.bytes.count
                pixelsIn += halved.inputWidth * halved.inputHeight
                print("\(path)\t\(input.count) -> \(halved.bytes.count) bytes\t\(halved.inputWidth)x\(halved.inputHeight) -> \(halved.outputWidth)x\(halved.outputHeight)\t\(String(format: "%.1f", milliseconds)) ms\t\(output.path)")
            } catch {
                print("\(path)\tFAILED\t\(error)")
                failures += 1
            }
        }
        let succeeded = files.count - failures
        let rate = seconds > 0 ? Double(pixelsIn) / 1_000_000 / seconds : 0
        let ratio = bytesIn > 0 ? Double(bytesOut) / Double(bytesIn) : 0
        print("halved \(succeeded) of \(files.count) files: \(bytesIn) -> \(bytesOut) bytes (\(String(format: "%.3f", ratio))), \(String(format: "%.1f", Double(pixelsIn) / 1_000_000)) MP in \(String(format: "%.3f", seconds)) s, \(String(format: "%.1f", rate)) MP/s")
        return failures == 0 ? 0 : 1
    }

    /// The file's bytes; the `Data` they were read into is gone before decoding starts.
    private static func readFile(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
