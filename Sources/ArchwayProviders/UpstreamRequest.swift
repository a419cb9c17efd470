import NIOCore
import NIOHTTP1

/// One upstream HTTP exchange waiting for its answer's head (or its whole answer): queued for a connection,
/// connecting, or sent. Touched only on its pool's event loop, the caller's continuation included.
///
/// The caller waits on a continuation rather than an `EventLoopPromise`: a promise is a future to
/// allocate, a callback list, and a second closure to bridge it to the awaiting task.
final class UpstreamRequest: @unchecked Sendable {
    let origin: UpstreamOrigin
    let head: HTTPRequestHead
    let body: ByteBuffer
    let deadline: NIODeadline
    /// When set, the answer comes at the body's end with the whole body, at most this many bytes.
    let collectLimit: Int?

    enum Phase {
        case created
        case queued(Scheduled<Void>)
        case connecting
        case sent(UpstreamConnectionHandler)
        /// The answer is given: a head arrived, or the exchange failed or was cancelled.
        case answered
    }

    var phase = Phase.created
    /// A reused connection that closed before answering (the upstream dropped it while idle) is retried
    /// once on a fresh connection; a second close is the upstream's answer.
    var retriedOnFreshConnection = false

    /// The caller's continuation, or the answer given before the caller waited (a cancellation can come
    /// first), or the answer nobody waits for (`UpstreamConnectionReplay`).
    private enum Waiter {
        case none
        case waiting(UnsafeContinuation<UpstreamResponse, any Error>)
        case answered(Result<UpstreamResponse, any Error>)
    }

    private var waiter = Waiter.none

    init(
        origin: UpstreamOrigin,
        head: HTTPRequestHead,
        body: ByteBuffer,
        deadline: NIODeadline,
        collectLimit: Int? = nil
    ) {
        assert(head.headers.contains(name: "content-length"), "heads are framed by their sender")
        self.origin = origin
        self.head = head
        self.body = body
        self.deadline = deadline
        self.collectLimit = collectLimit
    }

    var isAnswered: Bool {
        if case .answered = phase { return true }
        return false
    }

    /// Resumes `continuation` with the answer, now if it is given, else once it is. Once per request.
    func wait(_ continuation: UnsafeContinuation<UpstreamResponse, any Error>) {
        switch waiter {
        case .none: waiter = .waiting(continuation)
        case .answered(let result): continuation.resume(with: result)
        case .waiting: preconditionFailure("an upstream request has one caller")
        }
    }

    /// The answer, if given and nobody waits for it.
    var unclaimedAnswer: Result<UpstreamResponse, any Error>? {
        if case .answered(let result) = waiter { return result }
        return nil
    }

    func succeed(_ response: UpstreamResponse) {
        guard !isAnswered else { return }
        phase = .answered
        answer(.success(response))
    }

    func fail(_ error: any Error) {
        switch phase {
        case .answered: return
        case .queued(let timer): timer.cancel()
        case .created, .connecting, .sent: break
        }
        phase = .answered
        answer(.failure(error))
    }

    private func answer(_ result: Result<UpstreamResponse, any Error>) {
        if case .waiting(let continuation) = waiter {
            waiter = .none
            continuation.resume(with: result)
        } else {
            waiter = .answered(result)
        }
    }
}

extension UpstreamRequest {
    /// The upstream connection's request encoder does not frame heads: every head carries its
    /// `content-length` (`UpstreamTransport`), and SwiftNIO's framing, which looks for the framing headers
    /// and removes `transfer-encoding`, copied each head's header array to do so. Nor does the pipeline
    /// check outbound headers (a handler more for each of a request's parts): what goes out is the
    /// adapter's configured headers, checked once when it is built (`HeaderValidity`), and the length and
    /// trace context Archway writes itself.
    static let encoderConfiguration: HTTPRequestEncoder.Configuration = {
        var configuration = HTTPRequestEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        return configuration
    }()
}
