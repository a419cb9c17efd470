/// The policy stage's settings (`policy:`): what is detected in requests before they leave for a
/// provider, and what is done about it.
public struct PolicyConfiguration: Sendable {
    public struct PII: Sendable {
        public enum Action: String, Sendable, CaseIterable {
            /// Reversible placeholders, restored in the answer.
            case redact
            /// Irreversible placeholders.
            case mask
            /// 400 `policy_violation`; nothing is sent.
            case block
            /// Recorded only; the request goes as it is.
            case detect
        }

        /// A user-defined entity: a name and a regular expression.
        public struct CustomEntity: Sendable {
            public var name: String
            public var pattern: String

            public init(name: String, pattern: String) {
                self.name = name
                self.pattern = pattern
            }
        }

        public var action: Action
        /// Built-in entity names (`email`, `phone`, `credit_card`, `iban`, `us_ssn`, `ip_address`, `secret`).
        public var entities: [String]
        public var custom: [CustomEntity]

        public static let builtInEntities = ["email", "phone", "credit_card", "iban", "us_ssn", "ip_address", "secret"]

        public init(action: Action = .redact, entities: [String] = PII.builtInEntities, custom: [CustomEntity] = []) {
            self.action = action
            self.entities = entities
            self.custom = custom
        }
    }

    public struct Injection: Sendable {
        public enum Action: String, Sendable, CaseIterable {
            /// 400 `policy_violation`; nothing is sent.
            case block
            /// Recorded (span, metric, a warning log) and sent.
            case flag
            /// Recorded on the span and metric only.
            case detect
        }

        public var action: Action
        /// A prompt scoring above it counts as an injection.
        public var threshold: Double

        public init(action: Action = .block, threshold: Double = 0.7) {
            self.action = action
            self.threshold = threshold
        }
    }

    public var pii: PII?
    public var injection: Injection?

    public init(pii: PII? = nil, injection: Injection? = nil) {
        self.pii = pii
        self.injection = injection
    }
}
