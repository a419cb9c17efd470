import Yams

extension NodeReader {
    /// `policy: {pii: {action, entities, custom}, injection: {action, threshold}}`.
    mutating func policy(_ node: Node, _ path: String) -> PolicyConfiguration? {
        guard let entries = mapping(node, path, allowed: ["pii", "injection"]) else { return nil }
        var policy = PolicyConfiguration()
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "pii": policy.pii = pii(entry.value, childPath)
            default: policy.injection = injection(entry.value, childPath)
            }
        }
        return policy
    }

    mutating func pii(_ node: Node, _ path: String) -> PolicyConfiguration.PII? {
        guard let entries = mapping(node, path, allowed: ["action", "entities", "custom"]) else { return nil }
        var pii = PolicyConfiguration.PII()
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "action":
                guard let text = string(entry.value, childPath) else { continue }
                guard let action = PolicyConfiguration.PII.Action(rawValue: text) else {
                    report(entry.value, childPath, "unknown action '\(text)' (expected one of: redact, mask, block, detect)")
                    continue
                }
                pii.action = action
            case "entities":
                var entities: [String] = []
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    guard let name = string(item, "\(childPath)[\(index)]") else { continue }
                    guard PolicyConfiguration.PII.builtInEntities.contains(name) else {
                        report(item, "\(childPath)[\(index)]", "unknown entity '\(name)' (built in: \(PolicyConfiguration.PII.builtInEntities.joined(separator: ", ")); define others under custom)")
                        continue
                    }
                    if !entities.contains(name) { entities.append(name) }
                }
                pii.entities = entities
            default:
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    let itemPath = "\(childPath)[\(index)]"
                    guard let fields = mapping(item, itemPath, allowed: ["name", "pattern"]) else { continue }
                    var name: String?
                    var pattern: String?
                    for field in fields {
                        if field.key == "name" { name = string(field.value, "\(itemPath).name") } else { pattern = string(field.value, "\(itemPath).pattern") }
                    }
                    guard let name, let pattern else {
                        report(item, itemPath, "a custom entity needs a name and a pattern")
                        continue
                    }
                    guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !name.isEmpty, name.count <= 40 else {
                        report(item, "\(itemPath).name", "entity names are letters, digits and underscores (at most 40)")
                        continue
                    }
                    if PolicyConfiguration.PII.builtInEntities.contains(name) || pii.custom.contains(where: { $0.name == name }) {
                        report(item, "\(itemPath).name", "entity '\(name)' is defined twice")
                        continue
                    }
                    do {
                        _ = try Regex(pattern)
                    } catch {
                        report(item, "\(itemPath).pattern", "the pattern is not a valid regular expression: \(String(describing: error).prefix(200))")
                        continue
                    }
                    pii.custom.append(.init(name: name, pattern: pattern))
                }
            }
        }
        return pii
    }

    mutating func injection(_ node: Node, _ path: String) -> PolicyConfiguration.Injection? {
        guard let entries = mapping(node, path, allowed: ["action", "threshold"]) else { return nil }
        var injection = PolicyConfiguration.Injection()
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "action":
                guard let text = string(entry.value, childPath) else { continue }
                guard let action = PolicyConfiguration.Injection.Action(rawValue: text) else {
                    report(entry.value, childPath, "unknown action '\(text)' (expected one of: block, flag, detect)")
                    continue
                }
                injection.action = action
            default:
                injection.threshold = double(entry.value, childPath, range: 0...1) ?? injection.threshold
            }
        }
        return injection
    }
}
