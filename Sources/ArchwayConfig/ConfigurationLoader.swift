#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import ArchwayCore
import Yams

/// Reads a YAML configuration into a validated `GatewayConfiguration`, reporting every problem
/// (unknown keys, wrong types, missing providers, bad URLs, missing environment variables) with its location.
public struct ConfigurationLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func load(file path: String) throws(ConfigurationError) -> GatewayConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(problems: [.init(file: path, line: 1, column: 1, keyPath: "", message: "cannot read the file")])
        }
        return try load(yaml: text, file: path)
    }

    public func load(yaml: String, file: String = "<config>") throws(ConfigurationError) -> GatewayConfiguration {
        let root = try Self.compose(yaml, file: file)
        var reader = NodeReader(file: file, environment: environment)
        let configuration = reader.gateway(root)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return configuration
    }

    /// Reads a pricing document (the body of `PUT /admin/pricing`, or `pricing.file`; JSON is YAML too):
    /// `{models: {NAME: {input, output, cached_input?, schedule?}}}`, for models in `knownModels`.
    public func loadPricing(yaml: String, file: String = "<pricing>", knownModels: Set<String>) throws(ConfigurationError) -> [String: PriceSchedule] {
        let root = try Self.compose(yaml, file: file)
        var reader = NodeReader(file: file, environment: environment)
        let prices = reader.pricingDocument(root, knownModels: knownModels)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return prices
    }

    /// The YAML (or JSON) document's node tree, or its syntax error at its position.
    private static func compose(_ yaml: String, file: String) throws(ConfigurationError) -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError(problems: [Self.problem(from: error, file: file)])
        } catch {
            throw ConfigurationError(problems: [.init(file: file, line: 1, column: 1, keyPath: "", message: "not valid YAML")])
        }
    }

    private static func problem(from error: YamlError, file: String) -> ConfigurationProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            // `{key: ${VAR}}`: the reference's braces end a flow mapping. Quoting the value is the fix.
            let hint = problem.contains("','") || problem.contains("'}'") ? " (a ${VAR} inside {…} must be quoted: \"${VAR}\")" : ""
            return .init(file: file, line: mark.line, column: mark.column, keyPath: "", message: "invalid YAML: \(problem)\(hint)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return .init(file: file, line: context.mark.line, column: context.mark.column, keyPath: "", message: "a mapping has the key \(names) twice: YAML keys must be unique")
        default:
            return .init(file: file, line: 1, column: 1, keyPath: "", message: "invalid YAML")
        }
    }
}
