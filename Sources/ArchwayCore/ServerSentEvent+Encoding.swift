public import NIOCore

extension ServerSentEvent {
    /// Writes the event in wire form. `data` must not contain line breaks (JSON payloads never do).
    public func write(to buffer: inout ByteBuffer) {
        if let event {
            buffer.writeStaticString("event: ")
            buffer.writeString(event)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("data: ")
        buffer.writeString(data)
        buffer.writeStaticString("\n\n")
    }

    /// Writes a `data:` event whose payload is already-encoded bytes, without copying them into a String.
    public static func writeData(_ payload: some Collection<UInt8>, event: String? = nil, to buffer: inout ByteBuffer) {
        if let event {
            buffer.writeStaticString("event: ")
            buffer.writeString(event)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("data: ")
        buffer.writeBytes(payload)
        buffer.writeStaticString("\n\n")
    }
}
