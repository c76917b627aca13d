import HalfsizeCore

/// A message body as a worker and the dead-letter consumer read it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStageMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? StageMessage.decode(bytes) {
        precondition((try? StageMessage.decode(message.encoded())) == message, "a decoded message must survive a round trip")
    }
    _ = StageMessage.identifiers(in: bytes)
    return 0
}
