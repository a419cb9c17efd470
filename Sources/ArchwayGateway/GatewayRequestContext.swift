public import Hummingbird
public import Tracing
public import NIOCore

/// Per-request state: Hummingbird's core storage plus the trace context of the request's SERVER span.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Context of the SERVER span; model-call spans are its children.
    public var serviceContext: ServiceContext
    /// The SERVER span itself, for the facts a handler learns (`archway.route.*`).
    public var serverSpan: (any Span)?
    /// The client's connection, watched so a disconnect cancels the upstream call.
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.serviceContext = .topLevel
        self.serverSpan = nil
        self.channel = source.channel
    }

    /// Bodies are bounded by `server.max_body_bytes` where they are collected, not by this default.
    public var maxUploadSize: Int { .max }
}
