import ArchwayCore
import Yams

/// Walks the YAML tree, collecting problems instead of stopping at the first one.
struct NodeReader {
    let file: String
    let environment: [String: String]
    private(set) var problems: [ConfigurationProblem] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    mutating func report(_ node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        problems.append(.init(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, keyPath: path, message: message))
    }

    /// The entries of a mapping, with unknown keys reported. Returns nil (and reports) if `node` is not a mapping.
    mutating func mapping(_ node: Node?, _ path: String, allowed: Set<String>?) -> [(key: String, keyNode: Node, value: Node)]? {
        guard let node else { return nil }
        guard case .mapping(let mapping) = node else {
            report(node, path, "expected a mapping")
            return nil
        }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                report(keyNode, path, "keys must be strings")
                continue
            }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if let allowed, !allowed.contains(key) {
                report(keyNode, childPath, "unknown key '\(key)' (expected one of: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    /// The items of a sequence. Returns nil (and reports) if `node` is not a sequence.
    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(node, path, "expected a list")
            return nil
        }
        return Array(sequence)
    }

    /// A scalar with `${NAME}` (and `${NAME:-default}`) replaced from the environment.
    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node, path, "expected a single value")
            return nil
        }
        return interpolate(scalar.string, node: node, path: path)
    }

    mutating func interpolate(_ text: String, node: Node, path: String) -> String? {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        var ok = true
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                report(node, path, "unterminated '${' in value")
                return nil
            }
            let expression = rest[start.upperBound..<end]
            let name: Substring
            var fallback: Substring?
            if let separator = expression.range(of: ":-") {
                name = expression[..<separator.lowerBound]
                fallback = expression[separator.upperBound...]
            } else {
                name = expression
            }
            if let value = environment[String(name)], !value.isEmpty {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                report(node, path, "environment variable '\(name)' is \(environment[String(name)] == nil ? "not set" : "set but empty")")
                ok = false
            }
            rest = rest[rest.index(after: end)...]
        }
        result += rest
        return ok ? result : nil
    }

    /// A credential (`api_key`, `master_key`, a header value): a shell-style `$NAME` in it is almost surely
    /// meant as a reference, and sent as it is it would be a key refused on every call.
    mutating func secret(_ node: Node, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if case .scalar(let scalar) = node, let name = Self.shellReference(in: scalar.string) {
            report(node, path, "'$\(name)' is not expanded: environment variables are written ${\(name)}")
            return nil
        }
        return text
    }

    /// A shell-style `$NAME` in a value: the whole value (`$OPENAI_KEY`), or an upper-case name within it
    /// (`$OPENAI_KEY-suffix`, `sk-$KEY`). Lower-case `$…` inside a value may well be literal.
    static func shellReference(in text: String) -> Substring? {
        guard let dollar = text.firstIndex(of: "$") else { return nil }
        let rest = text[text.index(after: dollar)...]
        let name = rest.prefix { $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard let first = name.first, !first.isNumber else { return nil }
        let whole = dollar == text.startIndex && name.count == rest.count
        let upperCase = name.allSatisfy { $0 == "_" || $0.isNumber || $0.isUppercase } && name.count >= 2
        return whole || upperCase ? name : nil
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, path, "expected true or false, got '\(text)'")
            return nil
        }
    }

    mutating func int(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            report(node, path, "expected a whole number, got '\(text)'")
            return nil
        }
        guard range.contains(value) else {
            report(node, path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node, _ path: String, range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Double(text), range.contains(value) else {
            report(node, path, "expected a number between \(range.lowerBound) and \(range.upperBound), got '\(text)'")
            return nil
        }
        return value
    }

    /// `250ms`, `10s`, `2m`, `1h`, or a plain number of seconds.
    mutating func duration(_ node: Node, _ path: String) -> Duration? {
        guard let text = string(node, path) else { return nil }
        if let value = Self.parseDuration(text) { return value }
        report(node, path, "expected a duration such as 500ms, 10s or 2m, got '\(text)'")
        return nil
    }

    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where text.hasSuffix(unit.suffix) {
            if let number = Double(text.dropLast(unit.suffix.count)), number >= 0 {
                return .milliseconds(Int64((number * unit.seconds * 1000).rounded()))
            }
            return nil
        }
        if let seconds = Double(text), seconds >= 0 { return .milliseconds(Int64((seconds * 1000).rounded())) }
        return nil
    }

    /// An absolute http(s) URL with a host, without a trailing slash.
    mutating func url(_ node: Node, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            report(node, path, "'\(text)' is not a valid URL: it must start with http:// or https://")
            return nil
        }
        let afterScheme = text[text.index(text.startIndex, offsetBy: lower.hasPrefix("https://") ? 8 : 7)...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            // Credentials in a URL are neither sent as Basic auth nor kept out of telemetry: they go in
            // `api_key` (or `headers`), which are.
            report(node, path, "a URL must not carry credentials (user:password@): put the key in api_key, or a header in headers")
            return nil
        }
        if text.contains("#") {
            report(node, path, "'\(text)' has a fragment (#…), which is never sent to a server")
            return nil
        }
        let host = authority.hasPrefix("[") ? authority : (authority.split(separator: ":").first ?? "")
        if text.contains(" ") {
            report(node, path, "'\(text)' is not a valid URL: it contains a space")
            return nil
        }
        if host.isEmpty {
            report(node, path, "'\(text)' is not a valid URL: it has no host")
            return nil
        }
        if let portText = authority.split(separator: ":").dropFirst().last, !authority.hasPrefix("["), Int(portText).map({ (1...65535).contains($0) }) != true {
            report(node, path, "'\(text)' is not a valid URL: bad port")
            return nil
        }
        // A query (`?api-version=…`, as Azure OpenAI's endpoints need) is kept whole; only the path's
        // trailing slash goes.
        let query = text.firstIndex(of: "?").map { text[$0...] } ?? ""
        var base = text.dropLast(query.count)
        if base.hasSuffix("/") { base = base.dropLast() }
        return String(base + query)
    }
}
