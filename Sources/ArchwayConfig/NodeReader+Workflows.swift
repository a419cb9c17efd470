import ArchwayCore
import Yams

extension NodeReader {
    /// The `workflows:` section. `callable` holds every model and route name a step may call.
    mutating func workflows(_ node: Node, _ path: String, callable: Set<String>) -> [WorkflowConfiguration] {
        var workflows: [WorkflowConfiguration] = []
        for entry in mapping(node, path, allowed: nil) ?? [] {
            // The name is a path segment of `POST /v1/workflows/NAME/runs`.
            // Only dots would be a dot-segment, which clients collapse out of the URL.
            guard !entry.key.isEmpty, entry.key.utf8.allSatisfy(Self.isWorkflowNameByte), !entry.key.allSatisfy({ $0 == "." }) else {
                report(entry.keyNode, "\(path).\(entry.key)", "a workflow name may hold only letters, digits, '.', '_' and '-', and not only dots (it is part of the URL /v1/workflows/NAME/runs)")
                continue
            }
            if let workflow = workflow(entry.key, entry.value, "\(path).\(entry.key)", callable: callable) {
                workflows.append(workflow)
            }
        }
        return workflows
    }

    static func isWorkflowNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    mutating func workflow(_ name: String, _ node: Node, _ path: String, callable: Set<String>) -> WorkflowConfiguration? {
        guard let entries = mapping(node, path, allowed: ["inputs", "deadline_ms", "steps", "output"]) else { return nil }
        var inputs: [String] = []
        var deadline = Duration.seconds(60)
        var stepsNode: Node?
        var outputNode: Node?
        var valid = true
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "inputs":
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    guard let input = string(item, "\(childPath)[\(index)]") else { valid = false; continue }
                    if inputs.contains(input) {
                        report(item, "\(childPath)[\(index)]", "input '\(input)' is listed twice")
                        valid = false
                    }
                    inputs.append(input)
                }
            case "deadline_ms":
                guard let milliseconds = int(entry.value, childPath, range: 1...3_600_000) else { valid = false; continue }
                deadline = .milliseconds(milliseconds)
            case "steps":
                stepsNode = entry.value
            default:
                outputNode = entry.value
            }
        }
        guard let stepsNode else {
            report(node, "\(path).steps", "missing required key 'steps'")
            return nil
        }
        let stepEntries = mapping(stepsNode, "\(path).steps", allowed: nil) ?? []
        let stepNames = Set(stepEntries.map(\.key))
        var steps: [WorkflowStep] = []
        var stepNodes: [String: Node] = [:]
        for entry in stepEntries {
            let stepPath = "\(path).steps.\(entry.key)"
            stepNodes[entry.key] = entry.keyNode
            guard let step = step(entry.key, entry.value, stepPath, inputs: inputs, steps: stepNames, callable: callable) else {
                valid = false
                continue
            }
            steps.append(step)
        }
        if stepEntries.isEmpty {
            report(stepsNode, "\(path).steps", "a workflow needs at least one step")
            valid = false
        }
        var output = WorkflowValue.literal(.null)
        if let outputNode {
            if let value = workflowValue(outputNode, "\(path).output", inputs: inputs, steps: stepNames, item: false) {
                output = value
            } else {
                valid = false
            }
        } else {
            report(node, "\(path).output", "missing required key 'output' (what a run returns, e.g. \"{{steps.last.output}}\")")
            valid = false
        }
        // Among the steps that read well, whatever else is wrong: `check` lists every problem at once.
        if let cycle = Self.cycle(in: steps) {
            report(stepNodes[cycle[0]], "\(path).steps.\(cycle[0])", "steps depend on each other in a cycle: \(cycle.joined(separator: " → "))")
            return nil
        }
        // A map over a step's output needs that output to be a list: a text step's never is. Among the
        // steps that read well too, so the problem is listed with the others.
        for step in steps {
            guard let reference = step.map?.soleReference, reference.count == 3, reference[0] == "steps",
                  let source = steps.first(where: { $0.name == reference[1] }) else { continue }
            if source.output == .text, source.map == nil {
                report(stepNodes[step.name], "\(path).steps.\(step.name).map", "map needs a list, but step '\(source.name)' outputs text (set its output: json, or map over a list inside it)")
                valid = false
            }
        }
        return valid ? WorkflowConfiguration(name: name, inputs: inputs, deadline: deadline, steps: steps, output: output) : nil
    }

    mutating func step(_ name: String, _ node: Node, _ path: String, inputs: [String], steps: Set<String>, callable: Set<String>) -> WorkflowStep? {
        let keys: Set<String> = [
            "model", "prompt", "system", "output", "schema", "map", "max_parallel", "needs", "timeout_ms", "retries",
            "on_error", "temperature", "max_tokens",
        ]
        guard let entries = mapping(node, path, allowed: keys) else { return nil }
        let isMap = entries.contains { $0.key == "map" }
        var model: String?
        var prompt: WorkflowTemplate?
        // Filled in as the keys are read; model and prompt are required and set last. (An empty template
        // always parses.)
        var step = WorkflowStep(name: name, model: "", prompt: try! WorkflowTemplate(""))
        var valid = true
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "model":
                guard let value = string(entry.value, childPath) else { valid = false; continue }
                if !callable.contains(value) {
                    report(entry.value, childPath, "unknown model or route '\(value)'")
                    valid = false
                }
                model = value
            case "prompt":
                prompt = template(entry.value, childPath, inputs: inputs, steps: steps, item: isMap, selfName: name)
                if prompt == nil { valid = false }
            case "system":
                step.system = template(entry.value, childPath, inputs: inputs, steps: steps, item: isMap, selfName: name)
                if step.system == nil { valid = false }
            case "output":
                guard let text = string(entry.value, childPath) else { valid = false; continue }
                guard let output = WorkflowStep.Output(rawValue: text) else {
                    report(entry.value, childPath, "unknown output '\(text)' (expected text or json)")
                    valid = false
                    continue
                }
                step.output = output
            case "schema":
                step.schema = jsonValue(entry.value)
            case "map":
                guard let map = template(entry.value, childPath, inputs: inputs, steps: steps, item: false, selfName: name) else { valid = false; continue }
                guard map.soleReference != nil else {
                    report(entry.value, childPath, "map must be one reference to a list, such as \"{{steps.plan.output.items}}\"")
                    valid = false
                    continue
                }
                step.map = map
            case "max_parallel":
                step.maxParallel = int(entry.value, childPath, range: 1...256) ?? step.maxParallel
            case "needs":
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    guard let needed = string(item, "\(childPath)[\(index)]") else { valid = false; continue }
                    guard steps.contains(needed), needed != name else {
                        report(item, "\(childPath)[\(index)]", needed == name ? "a step cannot need itself" : "unknown step '\(needed)'")
                        valid = false
                        continue
                    }
                    step.needs.append(needed)
                }
            case "timeout_ms":
                step.timeout = int(entry.value, childPath, range: 1...3_600_000).map { .milliseconds($0) }
            case "retries":
                step.retries = int(entry.value, childPath, range: 0...10) ?? 0
            case "on_error":
                guard let onError = onError(entry.value, childPath) else { valid = false; continue }
                step.onError = onError
            case "temperature":
                step.temperature = double(entry.value, childPath, range: 0...2)
            default:
                step.maxTokens = int(entry.value, childPath, range: 1...1_000_000)
            }
        }
        if model == nil {
            report(node, "\(path).model", "missing required key 'model' (a model or route name)")
            valid = false
        }
        if prompt == nil, !entries.contains(where: { $0.key == "prompt" }) {
            report(node, "\(path).prompt", "missing required key 'prompt'")
            valid = false
        }
        guard valid, let model, let prompt else { return nil }
        step.model = model
        step.prompt = prompt
        return step
    }

    /// `fail`, `skip`, or `{default: VALUE}`.
    mutating func onError(_ node: Node, _ path: String) -> WorkflowStep.OnError? {
        if case .mapping = node {
            guard let entries = mapping(node, path, allowed: ["default"]), let value = entries.first?.value else {
                report(node, path, "expected fail, skip or {default: VALUE}")
                return nil
            }
            return .useDefault(jsonValue(value))
        }
        switch string(node, path) {
        case "fail": return .fail
        case "skip": return .skip
        case let other?:
            report(node, path, "unknown on_error '\(other)' (expected fail, skip or {default: VALUE})")
            return nil
        case nil: return nil
        }
    }

    /// A template whose references name declared inputs and other steps' outputs (and `item` in a map step).
    mutating func template(_ node: Node, _ path: String, inputs: [String], steps: Set<String>, item: Bool, selfName: String? = nil) -> WorkflowTemplate? {
        guard let text = string(node, path) else { return nil }
        let template: WorkflowTemplate
        do {
            template = try WorkflowTemplate(text)
        } catch {
            report(node, path, "the template does not parse: \(WorkflowTemplate.describe(error))")
            return nil
        }
        var valid = true
        for reference in template.references {
            let name = reference.joined(separator: ".")
            switch reference.first {
            case "inputs":
                if reference.count < 2 || !inputs.contains(reference[1]) {
                    report(node, path, "'{{\(name)}}' names no input (declared: \(inputs.isEmpty ? "none" : inputs.joined(separator: ", ")))")
                    valid = false
                }
            case "steps":
                if reference.count < 3 || reference[2] != "output" {
                    report(node, path, "'{{\(name)}}': a step is referenced as steps.NAME.output")
                    valid = false
                } else if !steps.contains(reference[1]) {
                    report(node, path, "'{{\(name)}}' names an unknown step '\(reference[1])'")
                    valid = false
                } else if reference[1] == selfName {
                    report(node, path, "'{{\(name)}}': a step cannot reference its own output")
                    valid = false
                }
            case "item" where item:
                break
            default:
                report(node, path, "'{{\(name)}}' is not a known name (use inputs.NAME, steps.NAME.output\(item ? " or item" : ""))")
                valid = false
            }
        }
        // Steps named inside sections: the schedule waits for each, so an unknown one would hang every run.
        let checked = Set(template.references.compactMap { $0.first == "steps" && $0.count > 1 ? $0[1] : nil })
        for step in template.referencedSteps where !checked.contains(step) {
            if !steps.contains(step) {
                report(node, path, "'steps.\(step)' (inside a section) names an unknown step '\(step)'")
                valid = false
            } else if step == selfName {
                report(node, path, "'steps.\(step)' (inside a section): a step cannot reference its own output")
                valid = false
            }
        }
        for tag in template.unsupportedTags {
            report(node, path, "'{{\(tag)}}': partials and delimiter changes are not supported in workflow templates")
            valid = false
        }
        return valid ? template : nil
    }

    /// The output document: strings are templates, mappings and lists nest, other scalars are literals.
    mutating func workflowValue(_ node: Node, _ path: String, inputs: [String], steps: Set<String>, item: Bool) -> WorkflowValue? {
        switch node {
        case .mapping:
            var entries: [(key: String, value: WorkflowValue)] = []
            var valid = true
            for entry in mapping(node, path, allowed: nil) ?? [] {
                guard let value = workflowValue(entry.value, "\(path).\(entry.key)", inputs: inputs, steps: steps, item: item) else { valid = false; continue }
                entries.append((entry.key, value))
            }
            return valid ? .object(entries) : nil
        case .sequence(let items):
            var values: [WorkflowValue] = []
            for (index, item) in items.enumerated() {
                guard let value = workflowValue(item, "\(path)[\(index)]", inputs: inputs, steps: steps, item: false) else { return nil }
                values.append(value)
            }
            return .array(values)
        case .scalar(let scalar):
            if scalar.style == .plain, node.string.map({ !$0.contains("{{") }) ?? true {
                return .literal(jsonValue(node))
            }
            return template(node, path, inputs: inputs, steps: steps, item: item).map(WorkflowValue.template)
        default:
            report(node, path, "expected a value, a mapping or a list")
            return nil
        }
    }

    /// A YAML value as JSON (plain scalars by their YAML type).
    func jsonValue(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping { if let key = key.string { object[key] = jsonValue(value) } }
            return .object(object)
        case .sequence(let sequence):
            return .array(sequence.map(jsonValue))
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.null != nil { return .null }
                if let bool = node.bool { return .bool(bool) }
                if let int = node.int { return JSONValue.number(exactly: Int64(int)) }
                if let float = node.float { return .number(float) }
            }
            return .string(scalar.string)
        default:
            return .null
        }
    }

    /// The first cycle among the steps' dependencies (as a path that starts and ends at the same step), if any.
    static func cycle(in steps: [WorkflowStep]) -> [String]? {
        let byName = Dictionary(steps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var state: [String: Int] = [:]  // 1: on the current path, 2: done
        var path: [String] = []
        func visit(_ name: String) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1, let start = path.firstIndex(of: name) { return Array(path[start...]) + [name] }
            state[name] = 1
            path.append(name)
            for dependency in byName[name]?.dependencies ?? [] {
                if let cycle = visit(dependency) { return cycle }
            }
            path.removeLast()
            state[name] = 2
            return nil
        }
        for step in steps {
            if let cycle = visit(step.name) { return cycle }
        }
        return nil
    }
}
