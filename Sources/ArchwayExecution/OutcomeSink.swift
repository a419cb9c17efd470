public import ArchwayCore
public import ArchwayTelemetry
public import Tracing

/// Where every model call's `AttemptOutcome` goes, once: it becomes the GenAI span's attributes and
/// status, the metrics, and then each observer's sample. Nothing about a call is recorded another way.
public struct OutcomeSink: Sendable {
    public let telemetry: GenAITelemetry
    public let observers: [any OutcomeObserver]

    public init(telemetry: GenAITelemetry, observers: [any OutcomeObserver] = []) {
        self.telemetry = telemetry
        self.observers = observers
    }

    /// Tells the observers a call starts (routing counts calls in flight).
    func callStarted(_ target: ModelCallTarget) {
        for observer in observers {
            observer.callStarted(target)
        }
    }

    /// Records the outcome and ends the call's span.
    public func record(_ outcome: AttemptOutcome, span: any Span, output: ChatResponse?) {
        telemetry.finish(span, outcome: outcome, output: output)
        for observer in observers {
            observer.observe(outcome)
        }
    }
}
