/// Something that learns from every model call: routing statistics, the spend ledger. The execution
/// layer's `OutcomeSink` tells each observer when a call starts and how it ended.
public protocol OutcomeObserver: Sendable {
    func callStarted(_ target: ModelCallTarget)
    func observe(_ outcome: AttemptOutcome)
}

extension OutcomeObserver {
    public func callStarted(_ target: ModelCallTarget) {}
}
