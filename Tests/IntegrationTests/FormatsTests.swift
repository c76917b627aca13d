import Foundation
import HalfsizeCore
import ImageCodecs
import TestCorpus
import Testing

extension PipelineTests {
    /// One image of each format through the four processes: each output keeps its format family
    /// (a TIFF photo becomes JPEG, a BMP with alpha PNG), is served with its Content-Type, has half the sides, keeps
    /// transparency and every frame.
    @Test func everyFormatIsHalvedInItsOwnFormat() async throws {
        try await withSystem { images, system in
            let sources: [(url: String, produces: ImageFormat, width: Int, height: Int, channels: Int, frames: Int)] = [
                (images.url("corpus/j20_squirrel_0.2mp.jpg"), .jpeg, 0, 0, 3, 1),
                (images.url("corpus/p03_photo_fruits_512.png"), .png, 0, 0, 0, 1),
                (images.url("made/photo.webp"), .webp, 0, 0, 3, 1),
                (images.url("made/alpha.webp"), .webp, 15, 11, 4, 1),
                (images.url("made/animated.webp"), .webp, 8, 6, 4, 3),
                (images.url("made/animated.gif"), .gif, 5, 3, 4, 3),
                (images.url("made/photo.tiff"), .jpeg, 0, 0, 3, 1),
                (images.url("made/logo.bmp"), .png, 6, 4, 4, 1),
                (images.url("made/badge.avif"), .avif, 15, 11, 4, 1),
            ]
            let csv = "S. No.,Product Name,Input Image Urls\n1,All,\"\(sources.map(\.url).joined(separator: ", "))\"\n"
            let (_, report) = try await runJob(csv, system: system)
            #expect(report["status"] as? String == "completed", "\(report)")
            #expect((report["formats"] as? [String: Int]) == ["jpeg": 1, "png": 1, "webp": 3, "gif": 1, "tiff": 1, "bmp": 1, "avif": 1])
            let outputURL = try #require(report["output_csv_url"] as? String)
            let line = String(decoding: try await HTTP.get(outputURL).1, as: UTF8.self).split(separator: "\r\n").last ?? ""
            let outputs = line.split(separator: "\"").last.map { $0.split(separator: ",").map(String.init) } ?? []
            #expect(outputs.count == sources.count, "\(line)")
            for (source, output) in zip(sources, outputs) {
                let fetched = try Curl.run(["-o", "/dev/null", "-w", "%{content_type}", output])
                #expect(fetched.body == source.produces.mediaType, "\(output)")
                let bytes = try await HTTP.get(output).1
                #expect(ImageFormat.detect(bytes) == source.produces, "\(output)")
                #expect(output.hasSuffix(".\(source.produces.fileExtension)"))
                let decoded = try ImageDecoder.decode(bytes).upright
                let original = try ImageDecoder.decode(try await HTTP.get(source.url).1).upright
                #expect((decoded.width, decoded.height) == (Halver.halvedLength(original.width), Halver.halvedLength(original.height)))
                if source.width > 0 { #expect((decoded.width, decoded.height) == (source.width, source.height)) }
                if source.channels > 0 { #expect(decoded.channels == source.channels, "\(output)") }
                if source.frames > 1 {
                    let animation = try ImageDecoder.animation(bytes)
                    #expect(animation.frames.count == source.frames && animation.endTimes == [100, 300, 600], "\(output)")
                }
            }
        }
    }
}
