public import Instrumentation
public import Tracing

/// The tracer with the SDK disabled (`OTEL_SDK_DISABLED=true`): it starts and records no span, but a
/// caller's `traceparent` and `tracestate` pass through to providers unchanged, so a trace is not cut
/// at the gateway. OpenTelemetry keeps propagators working when the SDK is off; `OTEL_PROPAGATORS=none`
/// still turns them off.
public struct PassThroughTracer: Tracer, TraceContextPropagating, Sendable {
    public typealias Span = NoOpTracer.NoOpSpan

    public let propagates: Bool

    public init(propagates: Bool = true) {
        self.propagates = propagates
    }

    /// `OTEL_PROPAGATORS` as `OTLPTracer` reads it.
    public init(environment: [String: String]) {
        self.init(propagates: OTLPTracer.propagates(environment))
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> NoOpTracer.NoOpSpan {
        NoOpTracer.NoOpSpan(context: context())
    }

    public func forceFlush() {}
}
