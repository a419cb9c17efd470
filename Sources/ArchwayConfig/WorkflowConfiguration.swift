public import ArchwayCore

/// A declared workflow: a DAG of model calls over named inputs, run under one deadline
/// (`POST /v1/workflows/{name}/runs`, or the model `workflow/{name}`).
public struct WorkflowConfiguration: Sendable {
    public var name: String
    /// Required input names.
    public var inputs: [String]
    /// The end-to-end budget of a run.
    public var deadline: Duration
    /// In file order; `dependencies` says which run first.
    public var steps: [WorkflowStep]
    /// The run's result, its strings rendered as templates once every step is done.
    public var output: WorkflowValue

    public init(name: String, inputs: [String], deadline: Duration, steps: [WorkflowStep], output: WorkflowValue) {
        self.name = name
        self.inputs = inputs
        self.deadline = deadline
        self.steps = steps
        self.output = output
    }

    public func step(named name: String) -> WorkflowStep? {
        steps.first { $0.name == name }
    }

    /// The model name clients send on `/v1/chat/completions` to run it.
    public var modelName: String { Self.modelPrefix + name }

    public static let modelPrefix = "workflow/"
}

/// One step: a model call (or, with `map`, one call per item of a list, in parallel).
public struct WorkflowStep: Sendable {
    public enum Output: String, Sendable, CaseIterable {
        /// The answer's text.
        case text
        /// The answer parsed as JSON; an answer that is not JSON fails the step.
        case json
    }

    /// What a failure of the step does to the run.
    public enum OnError: Sendable, Hashable {
        /// The run fails.
        case fail
        /// The step's output is null; the run goes on.
        case skip
        /// The step's output is this value; the run goes on.
        case useDefault(JSONValue)
    }

    public var name: String
    /// A configured model or route.
    public var model: String
    public var prompt: WorkflowTemplate
    public var system: WorkflowTemplate?
    public var output: Output
    /// A JSON schema for a `json` output, sent as `response_format` `json_schema`.
    public var schema: JSONValue?
    /// Fan-out: a reference to a list; the step runs once per item (`{{item}}`), its output the list of outputs.
    public var map: WorkflowTemplate?
    public var maxParallel: Int
    /// Steps named explicitly besides those the templates reference.
    public var needs: [String]
    /// The step's own budget (within the run's).
    public var timeout: Duration?
    /// Further attempts after a failure (a failed call, or a `json` answer that does not parse).
    public var retries: Int
    public var onError: OnError
    public var temperature: Double?
    public var maxTokens: Int?

    /// Every step this one waits for: `needs` and the steps its templates reference.
    public var dependencies: [String] {
        var dependencies = needs
        for template in [prompt, system, map].compactMap({ $0 }) {
            for step in template.referencedSteps where !dependencies.contains(step) {
                dependencies.append(step)
            }
        }
        return dependencies
    }

    public init(
        name: String,
        model: String,
        prompt: WorkflowTemplate,
        system: WorkflowTemplate? = nil,
        output: Output = .text,
        schema: JSONValue? = nil,
        map: WorkflowTemplate? = nil,
        maxParallel: Int = 4,
        needs: [String] = [],
        timeout: Duration? = nil,
        retries: Int = 0,
        onError: OnError = .fail,
        temperature: Double? = nil,
        maxTokens: Int? = nil
    ) {
        self.name = name
        self.model = model
        self.prompt = prompt
        self.system = system
        self.output = output
        self.schema = schema
        self.map = map
        self.maxParallel = maxParallel
        self.needs = needs
        self.timeout = timeout
        self.retries = retries
        self.onError = onError
        self.temperature = temperature
        self.maxTokens = maxTokens
    }
}

/// A workflow's output document: templates inside objects and lists, or literal values.
public indirect enum WorkflowValue: Sendable {
    case template(WorkflowTemplate)
    case literal(JSONValue)
    case object([(key: String, value: WorkflowValue)])
    case array([WorkflowValue])

    /// Every template in the document.
    public var templates: [WorkflowTemplate] {
        switch self {
        case .template(let template): [template]
        case .literal: []
        case .object(let entries): entries.flatMap(\.value.templates)
        case .array(let items): items.flatMap(\.templates)
        }
    }
}
