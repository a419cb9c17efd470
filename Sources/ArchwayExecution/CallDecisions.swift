public import ArchwayCore
public import ArchwayRouting
import Synchronization

/// What the execution layer decided for one call, for its caller to report: the route's decision, the
/// model that answered and how many times the call moved on. The HTTP layer puts it on the SERVER span
/// and in a response header; a workflow step on its own span.
public final class CallDecisions: Sendable {
    public struct Record: Sendable {
        public var decision: RoutingDecision?
        /// The configured model whose answer the caller got (or that was tried last).
        public var model: String?
        /// Moves to another candidate after a failure.
        public var fallbacks = 0
        /// What the models tried cost together (USD, at the prices in force).
        public var costUSD = 0.0
        /// Models tried.
        public var attempts = 0
        /// The route's retry budget stopped it from trying another candidate after a failure.
        public var retryBudgetExhausted = false
    }

    private let state = Mutex(Record())
    /// What a cancellation of the call stands for, when its caller may cancel it for reasons of its own (a
    /// connection cut by shutdown, a workflow's deadline or failed step); without it, the client left
    /// (`client_closed`). Here, in an object the call already carries, rather than in `CallScope`, which
    /// is copied a dozen times a call.
    public let cancellation: (any CancellationCause)?

    public init(cancellation: (any CancellationCause)? = nil) {
        self.cancellation = cancellation
    }

    /// The error a call of this record cancelled now ends with.
    var cancellationError: GatewayError { cancellation?.cancellationError ?? .clientClosed }

    public var record: Record { state.withLock { $0 } }

    func decided(_ decision: RoutingDecision?) {
        state.withLock { $0.decision = decision }
    }

    func tried(_ model: String, fallback: Bool) {
        state.withLock { record in
            record.model = model
            record.attempts += 1
            if fallback { record.fallbacks += 1 }
        }
    }

    func retryBudgetRanOut() {
        state.withLock { $0.retryBudgetExhausted = true }
    }

    func spent(_ cost: Double?) {
        guard let cost, cost > 0 else { return }
        state.withLock { $0.costUSD += cost }
    }
}
