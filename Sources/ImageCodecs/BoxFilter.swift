/// The 2×2 average. With alpha, colours are weighted by alpha so transparent pixels do not
/// bleed their (invisible) colour into the edges; a transparent result carries no colour.
enum BoxFilter {
    /// Halves an image whose rows `readRows(buffer, count)` delivers two at a time (one at an
    /// odd bottom edge), so only the halved image and one pair of rows are ever in memory.
    static func halve<Failure: Error>(width: Int, height: Int, channels: Int,
                                      readRows: (UnsafeMutablePointer<UInt8>, Int) throws(Failure) -> Void) throws(Failure) -> PixelBuffer {
        let outWidth = Halver.halvedLength(width), outHeight = Halver.halvedLength(height)
        let stride = width * channels
        var output = [UInt8](repeating: 0, count: outWidth * outHeight * channels)
        let pair = UnsafeMutablePointer<UInt8>.allocate(capacity: stride * 2)
        defer { pair.deallocate() }
        for outY in 0..<outHeight {
            let count = min(2, height - outY * 2)
            try readRows(pair, count)
            // At an odd edge the last row (and column) is read twice: the average of the pixels there are.
            if count == 1 { (pair + stride).update(from: pair, count: stride) }
            output.withUnsafeMutableBufferPointer { result in
                halveRowPair(top: pair, bottom: pair + stride, width: width, channels: channels,
                             into: result.baseAddress! + outY * outWidth * channels)
            }
        }
        return PixelBuffer(width: outWidth, height: outHeight, channels: channels, bytes: output)
    }

    /// Halves a whole image already in memory.
    static func halve(_ source: PixelBuffer) -> PixelBuffer {
        let stride = source.width * source.channels
        var nextRow = 0
        return source.bytes.withUnsafeBufferPointer { bytes in
            halve(width: source.width, height: source.height, channels: source.channels) { rows, count in
                rows.update(from: bytes.baseAddress! + nextRow * stride, count: count * stride)
                nextRow += count
            }
        }
    }

    private static func halveRowPair(top: UnsafePointer<UInt8>, bottom: UnsafePointer<UInt8>, width: Int, channels: Int,
                                     into result: UnsafeMutablePointer<UInt8>) {
        let hasAlpha = channels == 2 || channels == 4
        let colourChannels = hasAlpha ? channels - 1 : channels
        for outX in 0..<Halver.halvedLength(width) {
            let x0 = outX * 2, x1 = min(x0 + 1, width - 1)
            let p00 = top + x0 * channels, p01 = top + x1 * channels
            let p10 = bottom + x0 * channels, p11 = bottom + x1 * channels
            let target = result + outX * channels
            if hasAlpha {
                let a00 = Int(p00[colourChannels]), a01 = Int(p01[colourChannels])
                let a10 = Int(p10[colourChannels]), a11 = Int(p11[colourChannels])
                let alphaSum = a00 + a01 + a10 + a11
                let alpha = (alphaSum + 2) / 4
                target[colourChannels] = UInt8(alpha)
                for channel in 0..<colourChannels {
                    if alpha == 0 {  // invisible: no colour, which also compresses best
                        target[channel] = 0
                    } else {
                        let sum = Int(p00[channel]) * a00 + Int(p01[channel]) * a01 + Int(p10[channel]) * a10 + Int(p11[channel]) * a11
                        target[channel] = UInt8((sum + alphaSum / 2) / alphaSum)
                    }
                }
            } else {
                for channel in 0..<channels {
                    let sum = Int(p00[channel]) + Int(p01[channel]) + Int(p10[channel]) + Int(p11[channel])
                    target[channel] = UInt8((sum + 2) / 4)
                }
            }
        }
    }
}
