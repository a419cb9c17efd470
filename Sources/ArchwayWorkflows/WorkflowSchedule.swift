public import ArchwayConfig

/// Which steps of a run may start: a value-type state machine. Each event (`start`, `finished`) returns
/// the steps that became ready; a step is ready once every step it depends on has finished (succeeded,
/// skipped or defaulted). After a failure that fails the run, nothing more starts.
public struct WorkflowSchedule: Sendable {
    public enum StepState: Sendable, Hashable {
        case waiting
        case running
        case done
    }

    private var states: [String: StepState]
    private let dependencies: [String: [String]]
    private let order: [String]
    public private(set) var stopped = false

    public init(_ workflow: WorkflowConfiguration) {
        order = workflow.steps.map(\.name)
        dependencies = Dictionary(workflow.steps.map { ($0.name, $0.dependencies) }, uniquingKeysWith: { first, _ in first })
        states = Dictionary(order.map { ($0, StepState.waiting) }, uniquingKeysWith: { first, _ in first })
    }

    public func state(of step: String) -> StepState? { states[step] }

    /// The steps with nothing to wait for, marked running.
    public mutating func start() -> [String] {
        ready()
    }

    /// A step ended; returns the steps that may start now. `failsRun` stops the schedule.
    public mutating func finished(_ step: String, failsRun: Bool) -> [String] {
        states[step] = .done
        if failsRun { stopped = true }
        return ready()
    }

    /// The steps running now, in file order.
    public var running: [String] { order.filter { states[$0] == .running } }

    /// Every step done, or the run stopped and nothing runs any more.
    public var isComplete: Bool {
        stopped ? running.isEmpty : states.values.allSatisfy { $0 == .done }
    }

    private mutating func ready() -> [String] {
        guard !stopped else { return [] }
        var started: [String] = []
        for step in order where states[step] == .waiting {
            if (dependencies[step] ?? []).allSatisfy({ states[$0] == .done }) {
                states[step] = .running
                started.append(step)
            }
        }
        return started
    }
}
