import HalfsizeCore

/// A libjpeg or libpng decoder object from the C shims, owned by one Swift object that closes it
/// in `deinit`. It reads the input bytes in place, so it lives only inside `open`'s body.
protocol CodecDecoder: AnyObject {
    init(handle: OpaquePointer)
    /// Turns a status from the C decoder into a thrown error carrying its message.
    func check(_ status: Int32) throws(HalfsizeError)
}

extension CodecDecoder {
    /// Opens a decoder on `input` with `openHandle` (a C `…_decoder_open`) and runs `body` with it
    /// while the input's storage is pinned.
    static func open<Result>(_ input: [UInt8], format: String,
                             _ openHandle: (UnsafeBufferPointer<UInt8>, inout OpaquePointer?) -> Int32,
                             _ body: (Self) throws(HalfsizeError) -> Result) throws(HalfsizeError) -> Result {
        let outcome = input.withUnsafeBufferPointer { buffer -> Swift.Result<Result, HalfsizeError> in
            var handle: OpaquePointer?
            let status = openHandle(buffer, &handle)
            guard let handle else { return .failure(HalfsizeError(.outOfMemory, "not enough memory for a \(format) decoder")) }
            let decoder = Self(handle: handle)
            return Swift.Result { () throws(HalfsizeError) -> Result in
                try decoder.check(status)
                return try body(decoder)
            }
        }
        return try outcome.get()
    }

    /// A whole image, width × height × channels bytes, filled by `read` (a C `…_read`).
    func readImage(width: Int, height: Int, channels: Int,
                   _ read: (UnsafeMutablePointer<UInt8>?) -> Int32) throws(HalfsizeError) -> PixelBuffer {
        let count = width * height * channels
        var status: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = read(buffer.baseAddress)
            initialized = count  // on failure the bytes are thrown away below
        }
        try check(status)
        return PixelBuffer(width: width, height: height, channels: channels, bytes: bytes)
    }
}
