public import HTTPTypes

/// Whether configured text can go out as an HTTP header: checked where the configuration is read (an
/// error at file:line) and when an upstream's headers are built, so the upstream connection does not
/// have to check every request's headers again.
public enum HeaderValidity {
    /// A field name is a token (RFC 9110), as HTTPTypes checks it.
    public static func isSendableName(_ name: String) -> Bool {
        HTTPField.Name(name) != nil
    }

    /// A field value holds no control character but a tab: what SwiftNIO's outbound validation refuses
    /// (a line break in a key would otherwise start a header of its own).
    public static func isSendableValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
