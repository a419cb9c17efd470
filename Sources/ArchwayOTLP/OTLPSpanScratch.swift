#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The buffers a thread encodes its ended spans in, one set per thread: ending a span must not wait for
/// a lock or allocate. The set is taken out of the thread's slot while in use, so a span ended from inside
/// another's encoding (an attribute's `description` may run any code) gets buffers of its own.
final class OTLPSpanScratch {
    /// The `Span` message being written.
    var span = ProtobufWriter(capacity: 2_048)
    /// A span's events and links.
    var nested = ProtobufWriter(capacity: 256)

    private init() {}

    /// Runs `body` with the calling thread's buffers (made on its first span), then puts them back.
    static func with<Result>(_ body: (OTLPSpanScratch) -> Result) -> Result {
        let scratch: OTLPSpanScratch
        if let raw = pthread_getspecific(key) {
            scratch = Unmanaged<OTLPSpanScratch>.fromOpaque(raw).takeRetainedValue()
            pthread_setspecific(key, nil)
        } else {
            scratch = OTLPSpanScratch()
        }
        defer {
            scratch.trim()
            if pthread_getspecific(key) == nil {
                pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
            }
        }
        return body(scratch)
    }

    /// Lets go of a buffer a very large span (captured content) grew, so each thread keeps only a
    /// typical span's worth.
    private func trim() {
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
