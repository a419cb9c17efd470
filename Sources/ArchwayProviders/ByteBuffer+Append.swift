import NIOCore

extension ByteBuffer {
    /// Appends `part` unless the whole would pass `limit` bytes; then nothing is appended and it returns
    /// false. An empty buffer takes `part` itself, so a body that arrives in one part is never copied.
    mutating func append(_ part: inout ByteBuffer, limit: Int) -> Bool {
        guard readableBytes <= limit - part.readableBytes else { return false }
        if readableBytes == 0 {
            self = part
        } else {
            writeBuffer(&part)
        }
        return true
    }
}
