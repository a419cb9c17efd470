public import ArchwayCore
import Tracing
import Synchronization

/// The HTTP span of one upstream attempt whose body is still being read. Ending it is idempotent,
/// so every exit path (clean end, upstream failure, client gone) can end it without bookkeeping.
public final class UpstreamExchange: Sendable {
    private let span: Mutex<(any Span)?>

    init(span: any Span) {
        self.span = Mutex(span)
    }

    public func end(error: GatewayError? = nil) {
        let span = self.span.withLock { span in
            defer { span = nil }
            return span
        }
        guard let span else { return }
        if let error {
            span.modifyAttributes { $0.set(HTTPSpanKeys.errorType, error.shortDescription) }
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }

    deinit {
        // A stream abandoned without an explicit end still closes its span.
        span.withLock { $0?.end() }
    }
}

enum HTTPSpanKeys {
    static let errorType = "error.type"
}
