import HTTPTypes

/// One entry of the simulator's request log (`GET /_simulator/requests`). It keeps what tests need to
/// check the gateway's upstream calls — never credentials, only which scheme carried them.
public struct RecordedRequest: Sendable, Hashable, Codable {
    public var method: String
    public var path: String
    /// The body's `model`, when there was a readable one.
    public var model: String?
    public var traceparent: String?
    /// `bearer` for `Authorization: Bearer …`, `x-api-key` for an `x-api-key` header, else nil.
    public var authorizationScheme: String?
    public var anthropicVersion: String?
    /// The `x-simulator-*` headers, names lowercased.
    public var headers: [String: String]

    enum CodingKeys: String, CodingKey {
        case method, path, model, traceparent, headers
        case authorizationScheme = "authorization_scheme"
        case anthropicVersion = "anthropic_version"
    }

    public init(
        method: String,
        path: String,
        model: String? = nil,
        traceparent: String? = nil,
        authorizationScheme: String? = nil,
        anthropicVersion: String? = nil,
        headers: [String: String] = [:]
    ) {
        self.method = method
        self.path = path
        self.model = model
        self.traceparent = traceparent
        self.authorizationScheme = authorizationScheme
        self.anthropicVersion = anthropicVersion
        self.headers = headers
    }

    /// Reads the loggable parts of a request head.
    init(head: HTTPRequest) {
        let fields = head.headerFields
        var scheme: String?
        if let authorization = fields[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            scheme = "bearer"
        } else if fields[.xAPIKey] != nil {
            scheme = "x-api-key"
        }
        var simulatorHeaders: [String: String] = [:]
        for field in fields where field.name.canonicalName.hasPrefix("x-simulator-") {
            simulatorHeaders[field.name.canonicalName] = field.value
        }
        let path = head.path ?? "/"
        self.init(
            method: head.method.rawValue,
            path: String(path.prefix { $0 != "?" }),
            traceparent: fields[.traceparent],
            authorizationScheme: scheme,
            anthropicVersion: fields[.anthropicVersion],
            headers: simulatorHeaders
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        // Absent values are written as null, so readers can index every key.
        try container.encode(model, forKey: .model)
        try container.encode(traceparent, forKey: .traceparent)
        try container.encode(authorizationScheme, forKey: .authorizationScheme)
        try container.encode(anthropicVersion, forKey: .anthropicVersion)
        try container.encode(headers, forKey: .headers)
    }
}
