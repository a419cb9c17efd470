import NIOCore
import NIOHTTP1

/// One upstream HTTP exchange waiting for its answer's head (or its whole answer): queued for a connection,
/// connecting, or sent. Touched only on its pool's event loop; the promise is the one thing other threads see.
final class UpstreamRequest: @unchecked Sendable {
    let origin: UpstreamOrigin
    let head: HTTPRequestHead
    let body: ByteBuffer
    let deadline: NIODeadline
    /// When set, the answer comes at the body's end with the whole body, at most this many bytes.
    let collectLimit: Int?
    let promise: EventLoopPromise<UpstreamResponse>

    enum Phase {
        case created
        case queued(Scheduled<Void>)
        case connecting
        case sent(UpstreamConnectionHandler)
        /// The promise is completed: a head arrived, or the exchange failed or was cancelled.
        case answered
    }

    var phase = Phase.created
    /// A reused connection that closed before answering (the upstream dropped it while idle) is retried
    /// once on a fresh connection; a second close is the upstream's answer.
    var retriedOnFreshConnection = false

    init(
        origin: UpstreamOrigin,
        head: HTTPRequestHead,
        body: ByteBuffer,
        deadline: NIODeadline,
        collectLimit: Int? = nil,
        promise: EventLoopPromise<UpstreamResponse>
    ) {
        self.origin = origin
        self.head = head
        self.body = body
        self.deadline = deadline
        self.collectLimit = collectLimit
        self.promise = promise
    }

    var isAnswered: Bool {
        if case .answered = phase { return true }
        return false
    }

    func succeed(_ response: UpstreamResponse) {
        guard !isAnswered else { return }
        phase = .answered
        promise.succeed(response)
    }

    func fail(_ error: any Error) {
        switch phase {
        case .answered: return
        case .queued(let timer): timer.cancel()
        case .created, .connecting, .sent: break
        }
        phase = .answered
        promise.fail(error)
    }
}
