public import Hummingbird
public import Tracing

/// Per-request state: Hummingbird's core storage plus the trace context of the request's SERVER span.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Context of the SERVER span; model-call spans are its children.
    public var serviceContext: ServiceContext

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.serviceContext = .topLevel
    }

    /// Bodies are bounded by `server.max_body_bytes` where they are collected, not by this default.
    public var maxUploadSize: Int { .max }
}
