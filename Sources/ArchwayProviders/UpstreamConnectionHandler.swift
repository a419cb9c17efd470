import NIOCore
import NIOHTTP1
import NIOSSL

/// One pooled HTTP/1.1 connection to an upstream, one exchange at a time, on its channel's event loop.
///
/// Sends a request's head, body and end in one flush, answers the request with the response head, then
/// relays body parts into the response's async sequence. Reading from the socket pauses while
/// that sequence is full. A request that wants the whole body (`UpstreamRequest.collectLimit`) is answered
/// once, at the body's end, with the body collected here: no sequence, and one resumption of its caller.
/// One timer enforces both the call's deadline and the idle-read (first-byte) timeout. It is re-armed
/// lazily rather than on every read, and outlives an exchange: the next one keeps it when it is due no
/// later than the new exchange needs, so a busy connection schedules a timer about once a timeout rather
/// than once a call (a scheduled task is three allocations and two heap operations on the loop).
final class UpstreamConnectionHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case idle
        case awaitingHead(UpstreamRequest)
        /// The head of an answer whose body is wanted whole, and the body so far.
        case collecting(UpstreamRequest, HTTPResponseHead, ByteBuffer)
        case streaming(UpstreamResponseBody.Producer.Source)
        /// The body's reader left before its end: the rest is read and dropped for a moment, so a
        /// stream whose end was already on its way (an SSE `[DONE]` read before the terminating chunk)
        /// keeps its connection; anything longer is closed.
        case draining
        case closed
    }

    let origin: UpstreamOrigin
    private let pool: UpstreamConnectionPool
    private let readTimeout: TimeAmount
    /// How long an abandoned body may take to end before its connection is closed instead.
    private let drainAllowance: TimeAmount
    /// How soon after a request goes out on a reused connection a close still reads as the upstream's idle
    /// close crossing it (a round trip, with room for a distant provider). A later one may follow work
    /// the provider did and billed, and is never replayed.
    private let idleCloseWindow: TimeAmount
    private var context: ChannelHandlerContext?
    private var state = State.idle
    /// Distinguishes exchanges, so a late signal from a finished body never touches the next one.
    private var generation = 0
    private var deadline = NIODeadline.distantFuture
    private var lastRead = NIODeadline.now()
    private var timer: Scheduled<Void>?
    /// When `timer` fires.
    private var timerDue = NIODeadline.distantFuture
    private var keepAlive = true
    /// The answer's body ends where the connection does (no length, not chunked): only a clean close
    /// ends it, so a TLS close without `close_notify` may have cut it.
    private var bodyFramedByClose = false
    /// When the exchange's request went out, to tell a reused connection's idle close from a cut call.
    private var sentAt = NIODeadline.now()
    /// Whether the pool has been told the connection is gone: once, at the first close.
    private var reportedClosed = false
    private var readPaused = false
    private var readPending = false
    private(set) var completedExchanges = 0
    private(set) var idleSince = NIODeadline.now()

    init(origin: UpstreamOrigin, pool: UpstreamConnectionPool, readTimeout: TimeAmount, drainAllowance: TimeAmount, idleCloseWindow: TimeAmount) {
        self.origin = origin
        self.pool = pool
        self.readTimeout = readTimeout
        self.drainAllowance = drainAllowance
        self.idleCloseWindow = idleCloseWindow
    }

    var isUsable: Bool {
        guard case .idle = state, let context else { return false }
        return context.channel.isActive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: exchanges

    /// Sends `request` on this idle connection.
    func start(_ request: UpstreamRequest) {
        guard let context, case .idle = state, context.channel.isActive else {
            return request.fail(UpstreamConnectionError.remoteConnectionClosed)
        }
        generation &+= 1
        state = .awaitingHead(request)
        request.phase = .sent(self)
        deadline = request.deadline
        lastRead = .now()
        sentAt = lastRead
        keepAlive = request.head.isKeepAlive
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        // Flushed once this loop pass has run what it has queued: the requests that calls started in the
        // same pass leave together, and the upstream is woken once for them rather than once each.
        context.eventLoop.execute { [self] in self.context?.flush() }
        armTimer()
    }

    /// The caller went away before the head arrived.
    func cancel(_ request: UpstreamRequest) {
        switch state {
        case .awaitingHead(let current), .collecting(let current, _, _):
            if current === request { close(reason: CancellationError()) }
        case .idle, .streaming, .draining, .closed:
            break
        }
    }

    /// Closes the connection and fails its exchange now, with `reason`. The exchange's caller does not wait
    /// for the channel to go inactive: a TLS close waits for the peer's `close_notify`, which an upstream
    /// that stopped reading (the reason for most closes) never sends. Nothing read after this counts.
    func close(reason: any Error) {
        let previous = state
        state = .closed
        cancelTimer()
        fail(previous, with: reason)
        reportClosed()
        context?.close(promise: nil)
    }

    /// Fails the exchange `state` held, if any.
    private func fail(_ state: State, with reason: any Error) {
        switch state {
        case .awaitingHead(let request):
            request.fail(reason)
        case .collecting(let request, let head, _):
            // The head arrived: the failure is the body's, read where a streamed body's would be.
            if reason is CancellationError {
                request.fail(reason)
            } else {
                request.succeed(UpstreamResponse(head: head, body: UpstreamResponseBody(failure: reason)))
            }
        case .streaming(let source):
            source.finish(reason)
        case .draining, .idle, .closed:
            break
        }
    }

    private func reportClosed() {
        guard !reportedClosed else { return }
        reportedClosed = true
        pool.connectionClosed(self)
    }

    /// A request a reused connection's upstream never read (it closed the connection for idleness as the
    /// request went out): sent again, once, on a new connection.
    private func replay(_ request: UpstreamRequest) {
        state = .closed
        cancelTimer()
        request.retriedOnFreshConnection = true
        reportClosed()
        context?.close(promise: nil)
        pool.retry(request)
    }

    /// Whether a close or answer on this connection, now, may mean the upstream dropped it while idle rather
    /// than after reading the request: it has served before, and the request went out moments ago.
    private func mayBeIdleClose(of request: UpstreamRequest) -> Bool {
        completedExchanges > 0 && !request.retriedOnFreshConnection && NIODeadline.now() - sentAt < idleCloseWindow
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A closed connection's late bytes answer nothing.
        if case .closed = state { return }
        lastRead = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            // NIO's decoder drops informational (1xx) answers: a head here is the final one.
            guard case .awaitingHead(let request) = state,
                  // Archway never asks to switch protocols, and NIO's decoder stops parsing after a 101.
                  head.status != .switchingProtocols else {
                return close(reason: UpstreamConnectionError.invalidResponse)
            }
            // A 408 that a server writes on a keep-alive connection it closes for idleness, crossing the
            // request: the request was never read.
            if head.status == .requestTimeout, !head.isKeepAlive, mayBeIdleClose(of: request) {
                return replay(request)
            }
            keepAlive = keepAlive && head.isKeepAlive
            bodyFramedByClose = Self.isFramedByClose(head)
            if request.collectLimit != nil {
                state = .collecting(request, head, ByteBuffer())
                return
            }
            let body = UpstreamResponseBody.Producer.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16),
                finishOnDeinit: true,
                delegate: BodyDemand(handler: self, generation: generation, eventLoop: context.eventLoop)
            )
            state = .streaming(body.source)
            request.succeed(UpstreamResponse(head: head, body: UpstreamResponseBody(producer: body.sequence)))
        case .body(var part):
            switch state {
            case .streaming(let source):
                if source.yield(part) == .stopProducing { readPaused = true }
            case .collecting(let request, let head, var collected):
                // Out of the state while it grows, so the buffer is appended to in place.
                state = .closed
                let limit = request.collectLimit ?? .max
                guard collected.append(&part, limit: limit) else {
                    let tooLarge = NIOTooManyBytesError(maxBytes: limit)
                    request.succeed(UpstreamResponse(head: head, body: UpstreamResponseBody(failure: tooLarge)))
                    return close(reason: tooLarge)
                }
                state = .collecting(request, head, collected)
            case .draining:
                break
            case .awaitingHead:
                close(reason: UpstreamConnectionError.invalidResponse)
            case .idle, .closed:
                break
            }
        case .end:
            // Idle before the body ends or the answer goes: either may call back into this handler at once.
            switch state {
            case .streaming(let source):
                finishExchange()
                source.finish()
            case .collecting(let request, let head, let collected):
                finishExchange()
                request.succeed(UpstreamResponse(head: head, body: UpstreamResponseBody(collected: collected)))
            case .draining:
                finishExchange()
            case .awaitingHead, .idle, .closed:
                return close(reason: UpstreamConnectionError.invalidResponse)
            }
            if keepAlive {
                pool.release(self)
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// The upstream closed the connection (or reset it): Archway's own closes have failed their exchange
    /// already.
    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .awaitingHead(let request) where mayBeIdleClose(of: request):
            // An idle keep-alive connection the upstream closed just as it was reused.
            replay(request)
        case .awaitingHead:
            // Closed or reset before any answer: a connection failure (retried), not a cut answer.
            close(reason: UpstreamConnectionError.closedBeforeAnswer)
        default:
            close(reason: UpstreamConnectionError.remoteConnectionClosed)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOSSLError.uncleanShutdown:
            // A TCP close without TLS's `close_notify`, as many servers and load balancers close: like a
            // plain close, which the channel's going inactive reports, unless the close itself ends the
            // body, which it may then have cut.
            switch state {
            case .collecting, .streaming:
                if bodyFramedByClose { close(reason: UpstreamConnectionError.remoteConnectionClosed) }
            default:
                break
            }
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            close(reason: UpstreamConnectionError.tls(error))
        case HTTPParserError.invalidEOFState:
            // The connection closed inside a message: a cut answer, as when a stream breaks, or inside
            // the head, before there was an answer.
            if case .awaitingHead = state {
                close(reason: UpstreamConnectionError.closedBeforeAnswer)
            } else {
                close(reason: UpstreamConnectionError.remoteConnectionClosed)
            }
        case is HTTPParserError:
            close(reason: UpstreamConnectionError.invalidResponse)
        default:
            // A socket error (a reset, say) gives no reason of its own: the close reads as the upstream's,
            // so a reused connection reset before it answered is retried like one closed cleanly.
            context.close(promise: nil)
        }
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: body demand

    fileprivate func resumeReading(generation: Int) {
        guard generation == self.generation, readPaused else { return }
        lastRead = .now()
        unpauseReading()
        // The timer may be armed for the deadline alone while paused: the idle timeout applies again.
        armTimer()
    }

    /// The body's reader is gone (finished, cancelled or dropped) before the end. If the end arrives
    /// within the drain allowance the connection is kept; otherwise it closes, which also stops the provider
    /// generating for no one.
    fileprivate func bodyTerminated(generation: Int) {
        guard generation == self.generation, case .streaming = state else { return }
        state = .draining
        deadline = min(deadline, .now() + drainAllowance)
        unpauseReading()
        armTimer()
    }

    static func isFramedByClose(_ head: HTTPResponseHead) -> Bool {
        switch head.status.code {
        case 100..<200, 204, 304: return false
        default: break
        }
        if let coding = head.headers["transfer-encoding"].last {
            return !coding.lowercased().hasSuffix("chunked")
        }
        return !head.headers.contains(name: "content-length")
    }

    private func finishExchange() {
        // The timer stays for the next exchange; if it fires first, it finds the connection idle and stops.
        state = .idle
        deadline = .distantFuture
        completedExchanges += 1
        idleSince = .now()
        // An idle connection keeps reading, so an upstream's close is seen at once.
        unpauseReading()
    }

    /// Reads from the socket again, including the read held back while paused.
    private func unpauseReading() {
        readPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: timer

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// Makes sure the timer fires no later than the exchange's deadline or idle timeout. A timer due
    /// earlier is kept: when it fires it re-arms itself for what is due then.
    private func armTimer() {
        guard let context else { return }
        let idleDue = readPaused ? NIODeadline.distantFuture : lastRead + readTimeout
        let due = min(deadline, idleDue)
        if let timer {
            guard due < timerDue else { return }
            timer.cancel()
        }
        timerDue = due
        timer = context.eventLoop.scheduleTask(deadline: due) { [self] in
            timer = nil
            timerFired()
        }
    }

    private func timerFired() {
        switch state {
        case .awaitingHead, .collecting, .streaming, .draining: break
        case .idle, .closed: return
        }
        let now = NIODeadline.now()
        if now >= deadline {
            close(reason: UpstreamConnectionError.deadlineExceeded)
        } else if !readPaused, now >= lastRead + readTimeout {
            let waitingForHead: Bool
            if case .awaitingHead = state { waitingForHead = true } else { waitingForHead = false }
            close(reason: waitingForHead ? UpstreamConnectionError.readTimeout : UpstreamConnectionError.bodyStalled)
        } else {
            armTimer()
        }
    }

    /// Tells the connection when its body's reader wants more, or is gone.
    struct BodyDemand: NIOAsyncSequenceProducerDelegate {
        let handler: UpstreamConnectionHandler
        let generation: Int
        let eventLoop: any EventLoop

        func produceMore() {
            if eventLoop.inEventLoop {
                handler.resumeReading(generation: generation)
            } else {
                eventLoop.execute { [handler, generation] in handler.resumeReading(generation: generation) }
            }
        }

        func didTerminate() {
            if eventLoop.inEventLoop {
                handler.bodyTerminated(generation: generation)
            } else {
                eventLoop.execute { [handler, generation] in handler.bodyTerminated(generation: generation) }
            }
        }
    }
}
