/// One problem found in a configuration file, located to the line and column.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// Dotted path of the offending key (`providers.openai.base_url`); empty for the document itself.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(line):\(column): error: \(key)\(message)"
    }
}

/// Thrown when a configuration file has one or more problems; lists them all.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationProblem]

    public init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
