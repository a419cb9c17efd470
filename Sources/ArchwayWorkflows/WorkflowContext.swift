public import ArchwayConfig
public import ArchwayCore
import Foundation
import Mustache

/// The values templates see: `inputs`, `steps.NAME.output` and, in a map step, `item`. Rendering checks
/// first that every name the template references outside sections has a value: a missing one is an
/// error naming it, never an empty string.
public struct WorkflowContext: Sendable {
    public var inputs: [String: JSONValue]
    public var outputs: [String: JSONValue]
    public var item: JSONValue?

    public init(inputs: [String: JSONValue], outputs: [String: JSONValue] = [:], item: JSONValue? = nil) {
        self.inputs = inputs
        self.outputs = outputs
        self.item = item
    }

    /// The value a dotted name stands for, or nil when it has none.
    public func value(at path: [String]) -> JSONValue? {
        guard let head = path.first else { return nil }
        var current: JSONValue
        var rest = path.dropFirst()
        switch head {
        case "inputs":
            guard let name = rest.popFirst(), let value = inputs[name] else { return nil }
            current = value
        case "steps":
            guard let name = rest.popFirst(), rest.popFirst() == "output", let value = outputs[name] else { return nil }
            current = value
        case "item":
            guard let item else { return nil }
            current = item
        default:
            return nil
        }
        for key in rest {
            switch current {
            case .object(let object):
                guard let next = object[key] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(key), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// Renders a template to text.
    public func render(_ template: WorkflowTemplate) throws(WorkflowRunError) -> String {
        for reference in template.references where value(at: reference) == nil {
            throw .missingValue(reference.joined(separator: "."))
        }
        var root: [String: Any] = [
            "inputs": mustacheValue(.object(inputs)),
            "steps": mustacheValue(.object(outputs.mapValues { .object(["output": $0]) })),
        ]
        if let item { root["item"] = mustacheValue(item) }
        return template.template.render(root)
    }

    /// Evaluates an output value: a string that is one reference stands for the value itself (a list
    /// stays a list); other strings render as text.
    public func evaluate(_ value: WorkflowValue) throws(WorkflowRunError) -> JSONValue {
        switch value {
        case .literal(let literal):
            return literal
        case .template(let template):
            if let reference = template.soleReference {
                guard let value = self.value(at: reference) else { throw .missingValue(reference.joined(separator: ".")) }
                return value
            }
            return .string(try render(template))
        case .object(let entries):
            var object: [String: JSONValue] = [:]
            for (key, value) in entries { object[key] = try evaluate(value) }
            return .object(object)
        case .array(let items):
            var array: [JSONValue] = []
            for item in items { array.append(try evaluate(item)) }
            return .array(array)
        }
    }
}

/// A JSON value as Mustache sees it: objects resolve dotted names, lists iterate in sections and resolve
/// indices (`items.0`), and a value printed whole is its JSON text (a string is its text, a whole number has
/// no decimals, null is empty).
///
/// Objects and lists are converted as the template reaches into them, not whole: a map step renders its
/// prompt once per item, and converting the run's every value (a long list among the inputs, say) for
/// each of them made a wide map quadratic.
func mustacheValue(_ value: JSONValue) -> Any {
    switch value {
    case .null: NSNull()
    case .bool(let flag): flag
    // A whole number prints as one, never in exponent form nor with `.0`, as it does inside JSON text.
    case .number(let number): JSONValue.wholeNumber(number).map { Int($0) } ?? number
    case .integer(let value): Int(value)
    case .string(let text): text
    case .array(let items): TemplateList(items: items)
    case .object(let object): TemplateObject(children: object)
    }
}

/// Compact JSON text of a value, keys sorted, for prompts and for a workflow's output as a message: the
/// same value always reads the same.
public func jsonText(_ value: JSONValue) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
}

struct TemplateObject: MustacheParent, MustacheCustomRenderable {
    let children: [String: JSONValue]

    func child(named: String) -> Any? { children[named].map(mustacheValue) }
    var renderText: String { jsonText(.object(children)) }
    var isNull: Bool { false }
}

struct TemplateList: MustacheSequence, MustacheParent, MustacheCustomRenderable {
    let items: [JSONValue]

    func makeIterator() -> LazyMapSequence<[JSONValue], Any>.Iterator { items.lazy.map(mustacheValue).makeIterator() }
    /// `list.0`: an item by its index.
    func child(named: String) -> Any? {
        guard let index = Int(named), items.indices.contains(index) else { return nil }
        return mustacheValue(items[index])
    }
    var renderText: String { jsonText(.array(items)) }
    var isNull: Bool { items.isEmpty }
}
