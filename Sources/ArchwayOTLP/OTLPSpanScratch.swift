#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The buffers a thread encodes its ended spans in, one set per thread: ending a span must not wait for
/// a lock or allocate, and a span's encoding never suspends, so nothing else on the thread can be using
/// them meanwhile.
final class OTLPSpanScratch {
    /// The `Span` message being written.
    var span = ProtobufWriter(capacity: 2_048)
    /// A span's events and links.
    var nested = ProtobufWriter(capacity: 256)

    private init() {}

    /// The calling thread's buffers, made on its first span.
    static var current: OTLPSpanScratch {
        if let raw = pthread_getspecific(key) {
            return Unmanaged<OTLPSpanScratch>.fromOpaque(raw).takeUnretainedValue()
        }
        let scratch = OTLPSpanScratch()
        pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
        return scratch
    }

    /// Lets go of a buffer a very large span (captured content) grew, so each thread keeps only a
    /// typical span's worth.
    func trim() {
        if span.bytes.capacity > 64 * 1_024 { span = ProtobufWriter(capacity: 2_048) }
        if nested.bytes.capacity > 64 * 1_024 { nested = ProtobufWriter(capacity: 256) }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // A thread's buffers go with the thread.
        let created = pthread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<OTLPSpanScratch>.fromOpaque(raw).release()
        }
        precondition(created == 0, "pthread_key_create failed: \(created)")
        return key
    }()
}
