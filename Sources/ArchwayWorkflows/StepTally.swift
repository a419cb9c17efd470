import ArchwayCore
import ArchwayExecution
import Synchronization

/// A step's calls added up (a map step's run at once): calls made, the last model that answered,
/// tokens and cost.
final class StepTally: Sendable {
    struct Record: Sendable {
        var attempts = 0
        var model: String?
        var usage: Usage?
        var cost = 0.0
    }

    private let state = Mutex(Record())

    var record: Record { state.withLock { $0 } }

    func add(_ decisions: CallDecisions.Record) {
        state.withLock { record in
            record.attempts += max(decisions.attempts, 1)
            record.model = decisions.model ?? record.model
            record.cost += decisions.costUSD
        }
    }

    func add(usage: Usage?) {
        guard let usage else { return }
        state.withLock { record in
            var total = record.usage ?? Usage(inputTokens: 0, outputTokens: 0)
            total.inputTokens += usage.inputTokens
            total.outputTokens += usage.outputTokens
            record.usage = total
        }
    }
}
