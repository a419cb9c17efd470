public import ArchwayCore
public import Tracing
import ArchwayTelemetry

/// Who asks for a model call and under what limits: what the execution layer needs besides the request.
/// HTTP routes, workflow steps, shadow samples and probes all make one.
public struct CallScope: Sendable {
    /// The client-facing model (or, with routing, route) name the caller asked for.
    public var model: String
    /// The caller's trace context (the SERVER span, a workflow step): the GenAI spans are its children.
    public var context: ServiceContext
    /// The caller's absolute deadline (a workflow's remaining budget). The call never runs past it nor
    /// past the route's own timeout; without it, the route's timeout alone bounds the call.
    public var deadline: ContinuousClock.Instant?
    /// Why the call is made when not for a client (`probe`); on the GenAI span as `archway.call.purpose`.
    public var purpose: String?
    /// Receives the routing decision and the model that answered, when the caller wants to report them.
    public var decisions: CallDecisions?
    /// The call this one evaluates (a shadow call's link to the client's call).
    public var link: ServiceContext?

    public init(
        model: String,
        context: ServiceContext = .topLevel,
        deadline: ContinuousClock.Instant? = nil,
        purpose: String? = nil,
        decisions: CallDecisions? = nil,
        link: ServiceContext? = nil
    ) {
        self.model = model
        self.context = context
        self.deadline = deadline
        self.purpose = purpose
        self.decisions = decisions
        self.link = link
    }

    /// Whether answers to this call are consistency-sampled: a client's or a workflow's, never a
    /// shadow call's nor a probe's.
    var isSampled: Bool {
        purpose != ModelCallTarget.shadowPurpose && purpose != ModelCallTarget.probePurpose
    }
}

/// Why a call was cancelled, asked when it was: a connection cut by shutdown (`shutting_down`), a workflow
/// run that stopped its steps (`cancelled`), or the client leaving (`client_closed`).
public protocol CancellationCause: Sendable {
    var cancellationError: GatewayError { get }
}
