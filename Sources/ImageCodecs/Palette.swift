/// An indexed image: PNG's palette colour type, GIF's colour tables.
struct Palette {
    var rgb: [UInt8]
    /// Alpha per entry, trimmed after the last entry that is not opaque (PNG's tRNS).
    var alpha: [UInt8]
    var indices: [UInt8]

    /// A pixel as RGBA packed in a UInt32.
    static func rgba(_ pixels: PixelBuffer, _ pixel: Int) -> UInt32 {
        let base = pixel * pixels.channels, bytes = pixels.bytes
        let (r, g, b, a): (UInt8, UInt8, UInt8, UInt8)
        switch pixels.channels {
        case 1: (r, g, b, a) = (bytes[base], bytes[base], bytes[base], 255)
        case 2: (r, g, b, a) = (bytes[base], bytes[base], bytes[base], bytes[base + 1])
        case 3: (r, g, b, a) = (bytes[base], bytes[base + 1], bytes[base + 2], 255)
        default: (r, g, b, a) = (bytes[base], bytes[base + 1], bytes[base + 2], bytes[base + 3])
        }
        return UInt32(r) << 24 | UInt32(g) << 16 | UInt32(b) << 8 | UInt32(a)
    }

    /// The image's exact colours, when there are at most 256 of them. Entries that are not opaque
    /// come first, so the tRNS chunk stops where they do.
    static func exact(_ pixels: PixelBuffer) -> Palette? {
        var table: [UInt32: UInt8] = [:]
        var colours: [UInt32] = []
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        var previous: (key: UInt32, index: UInt8)?
        for pixel in 0..<(pixels.width * pixels.height) {
            let key = rgba(pixels, pixel)
            if let previous, previous.key == key {  // runs of one colour are common where this pays
                indices[pixel] = previous.index
                continue
            }
            let index: UInt8
            if let known = table[key] {
                index = known
            } else {
                guard colours.count < 256 else { return nil }  // a photo gives up within a few rows
                index = UInt8(colours.count)
                table[key] = index
                colours.append(key)
            }
            indices[pixel] = index
            previous = (key, index)
        }
        let order = colours.indices.sorted { (colours[$0] & 255 == 255 ? 1 : 0, $0) < (colours[$1] & 255 == 255 ? 1 : 0, $1) }
        var position = [UInt8](repeating: 0, count: colours.count)
        for (newIndex, oldIndex) in order.enumerated() { position[oldIndex] = UInt8(newIndex) }
        for pixel in indices.indices { indices[pixel] = position[Int(indices[pixel])] }
        let rgb = order.flatMap { [UInt8(colours[$0] >> 24), UInt8(colours[$0] >> 16 & 255), UInt8(colours[$0] >> 8 & 255)] }
        var alpha = order.map { UInt8(colours[$0] & 255) }
        while alpha.last == 255 { alpha.removeLast() }
        return Palette(rgb: rgb, alpha: alpha, indices: indices)
    }

    /// Every pixel mapped to the closest entry of the source's palette (RGBA distance; the lowest
    /// entry among equals), for the averaged edges that made more than 256 colours: the image stays
    /// small, as it came. Entries are searched outward from the pixel's red in red order, stopping
    /// where red alone is farther than the best so far.
    static func nearest(_ pixels: PixelBuffer, entries: [UInt8]) -> Palette? {
        let count = entries.count / 4
        guard count > 0 else { return nil }
        let order = (0..<count).sorted { (entries[$0 * 4], $0) < (entries[$1 * 4], $1) }
        let sorted = order.flatMap { entry in (0..<4).map { Int32(entries[entry * 4 + $0]) } }
        var cache: [UInt32: UInt8] = [:]
        cache.reserveCapacity(4096)
        var indices = [UInt8](repeating: 0, count: pixels.width * pixels.height)
        for pixel in 0..<(pixels.width * pixels.height) {
            let key = rgba(pixels, pixel)
            if let index = cache[key] {
                indices[pixel] = index
                continue
            }
            let (r, g, b, a) = (Int32(key >> 24), Int32(key >> 16 & 255), Int32(key >> 8 & 255), Int32(key & 255))
            var best = 0, bestDistance = Int32.max
            sorted.withUnsafeBufferPointer { table in
                func consider(_ slot: Int) {
                    let base = slot * 4
                    let dr = r - table[base], dg = g - table[base + 1], db = b - table[base + 2], da = a - table[base + 3]
                    let distance = dr * dr + dg * dg + db * db + da * da
                    let entry = order[slot]
                    if distance < bestDistance || (distance == bestDistance && entry < best) { (best, bestDistance) = (entry, distance) }
                }
                // The first slot whose red is at least the pixel's.
                var low = 0, high = count
                while low < high {
                    let middle = (low + high) / 2
                    if table[middle * 4] < r { low = middle + 1 } else { high = middle }
                }
                var up = low, down = low - 1
                while up < count || down >= 0 {
                    if up < count {
                        let dr = table[up * 4] - r
                        if dr * dr > bestDistance { up = count } else { consider(up); up += 1 }
                    }
                    if down >= 0 {
                        let dr = r - table[down * 4]
                        if dr * dr > bestDistance { down = -1 } else { consider(down); down -= 1 }
                    }
                }
            }
            cache[key] = UInt8(best)
            indices[pixel] = UInt8(best)
        }
        var rgb: [UInt8] = [], alpha: [UInt8] = []
        for entry in 0..<count {
            rgb += entries[entry * 4..<entry * 4 + 3]
            alpha.append(entries[entry * 4 + 3])
        }
        while alpha.last == 255 { alpha.removeLast() }
        return Palette(rgb: rgb, alpha: alpha, indices: indices)
    }
}
