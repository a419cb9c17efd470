/// An arbitrary JSON value, for the parts of the wire formats that Archway carries but does not interpret
/// (tool parameter schemas, `response_format`, provider-specific request fields).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    /// A whole number that no `Double` holds exactly (past ±2^53): a 64-bit id, say. Every other number is
    /// `.number`, so each value has one form and equality means what it says.
    case integer(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        // The Decoder API cannot ask a value's type, so each guess that fails throws (and builds a coding
        // path). Guesses are ordered by how often each kind appears in what Archway carries (schemas,
        // `response_format`): strings and objects first, so most values cost at most one failed guess.
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            let number = try container.decode(Double.self)
            // Only a whole number too large for a double's 53 bits is read again, as the integer it is:
            // the other numbers (an embedding's floats among them) pay nothing for it.
            if number.magnitude >= 0x1p53, let exact = try? container.decode(Int64.self) {
                self = Self.number(exactly: exact)
            } else {
                self = .number(number)
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if let integer = Self.wholeNumber(value) {
                try container.encode(integer)
            } else {
                try container.encode(value)
            }
        case .integer(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The number at `key` as a whole number, if it is one.
    public func intValue(forKey key: String) -> Int? {
        guard case .number(let number)? = objectValue?[key], number.rounded() == number, abs(number) < 9e15 else { return nil }
        return Int(number)
    }

    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

/// Coding keys for containers whose keys are not known in advance.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(_ string: String) {
        self.stringValue = string
        self.intValue = nil
    }

    public init?(stringValue: String) { self.init(stringValue) }

    public init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension JSONValue {
    /// A number that is whole, as the integer it is (within Int64's range), for writing it without a
    /// fraction or an exponent: ids and counts survive a round trip, and a large one reads as itself.
    public static func wholeNumber(_ number: Double) -> Int64? {
        Int64(exactly: number)
    }

    /// A whole number in its one form: `.number` when a double holds it exactly, `.integer` otherwise.
    public static func number(exactly value: Int64) -> JSONValue {
        let number = Double(value)
        return Int64(exactly: number) == value ? .number(number) : .integer(value)
    }

    /// The value as a double, if it is a number (an `.integer` rounded to the nearest double).
    public var doubleValue: Double? {
        switch self {
        case .number(let number): number
        case .integer(let value): Double(value)
        default: nil
        }
    }
}
