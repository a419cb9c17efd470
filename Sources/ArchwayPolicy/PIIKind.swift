/// What a detected value is. The built-in kinds are validated, not bare patterns; custom kinds come
/// from the configuration (`policy.pii.custom`), so the set is closed either way.
public struct PIIKind: Sendable, Hashable, CustomStringConvertible {
    /// The configured name (`email`, `credit_card`, `employee_id`): metric and span label.
    public let name: String

    public init(_ name: String) { self.name = name }

    public static let email = PIIKind("email")
    public static let phone = PIIKind("phone")
    public static let creditCard = PIIKind("credit_card")
    public static let iban = PIIKind("iban")
    public static let usSSN = PIIKind("us_ssn")
    public static let ipAddress = PIIKind("ip_address")
    public static let secret = PIIKind("secret")

    public static let builtIn: [PIIKind] = [.email, .phone, .creditCard, .iban, .usSSN, .ipAddress, .secret]

    /// The label placeholders carry (`EMAIL`, `CREDIT_CARD`).
    public var label: String { name.uppercased() }

    public var description: String { name }
}

/// A detected value: its kind and where it is, as UTF-8 byte offsets into the scanned text.
public struct PIIFinding: Sendable, Hashable {
    public var kind: PIIKind
    public var range: Range<Int>
}
