public import Hummingbird
public import Tracing

/// Per-request state: Hummingbird's core storage plus the trace context of the request's SERVER span.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Context of the SERVER span; model-call spans are its children.
    public var serviceContext: ServiceContext
    /// The SERVER span itself, for the facts a handler learns (`archway.route.*`).
    public var serverSpan: (any Span)?
    /// Ends the SERVER span and records the request's duration: what fails after the status went out is
    /// reported to it.
    var serverSpanEnd: ServerSpanEnd?
    /// The client's connection, whose close cancels the request's calls; nil in-process.
    var client: ClientConnection?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.serviceContext = .topLevel
        self.serverSpan = nil
        self.serverSpanEnd = nil
        self.client = nil
    }

    /// Bodies are bounded by `server.max_body_bytes` where they are collected, not by this default.
    public var maxUploadSize: Int { .max }
}
