public import NIOCore

extension ByteBuffer {
    /// The bytes without a leading UTF-8 byte-order mark, which some clients, servers and Windows editors
    /// write before a JSON document: the decoders would accept it, the byte relay's scanner (and the peer
    /// the bytes go to) might not.
    public func droppingByteOrderMark() -> ByteBuffer {
        guard readableBytes >= 3,
              getInteger(at: readerIndex, as: UInt8.self) == 0xEF,
              getInteger(at: readerIndex + 1, as: UInt8.self) == 0xBB,
              getInteger(at: readerIndex + 2, as: UInt8.self) == 0xBF
        else { return self }
        return getSlice(at: readerIndex + 3, length: readableBytes - 3) ?? self
    }
}
