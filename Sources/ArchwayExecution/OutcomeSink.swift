public import ArchwayCore
public import ArchwayTelemetry
public import Tracing

/// Something that learns from every model call's outcome: routing statistics, the spend ledger.
public protocol OutcomeObserver: Sendable {
    func observe(_ outcome: AttemptOutcome)
}

/// Where every model call's `AttemptOutcome` goes, once: it becomes the GenAI span's attributes and
/// status, the metrics, and then each observer's sample. Nothing about a call is recorded another way.
public struct OutcomeSink: Sendable {
    public let telemetry: GenAITelemetry
    public let observers: [any OutcomeObserver]

    public init(telemetry: GenAITelemetry, observers: [any OutcomeObserver] = []) {
        self.telemetry = telemetry
        self.observers = observers
    }

    /// Records the outcome and ends the call's span.
    public func record(_ outcome: AttemptOutcome, span: any Span, output: ChatResponse?) {
        telemetry.finish(span, outcome: outcome, output: output)
        for observer in observers {
            observer.observe(outcome)
        }
    }
}
