/// A libFuzzer input read as a peer's bytes arriving in pieces: the first byte sets the size of every
/// piece (1 to 64 bytes), the rest are the bytes. Nil for an empty input.
public func inputPieces(_ start: UnsafePointer<UInt8>, _ count: Int) -> [[UInt8]]? {
    guard count > 0 else { return nil }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let pieceSize = 1 + Int(bytes[0] % 64)
    return stride(from: 1, to: bytes.count, by: pieceSize).map { Array(bytes[$0..<min(bytes.count, $0 + pieceSize)]) }
}
