/// Why an upstream HTTP exchange failed below HTTP: the transport maps each to a `GatewayError`.
public struct UpstreamConnectionError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case connectTimeout
        case connectFailed
        case tlsFailed
        case readTimeout
        case bodyStalled
        case deadlineExceeded
        case remoteConnectionClosed
        case closedBeforeAnswer
        case invalidResponse
        case shutdown
    }

    let code: Code

    public static let connectTimeout = Self(code: .connectTimeout)
    public static let connectFailed = Self(code: .connectFailed)
    public static let tlsFailed = Self(code: .tlsFailed)
    public static let readTimeout = Self(code: .readTimeout)
    /// The answer had begun, then nothing came for longer than the first-byte timeout.
    public static let bodyStalled = Self(code: .bodyStalled)
    public static let deadlineExceeded = Self(code: .deadlineExceeded)
    /// The answer had begun, then the connection closed inside it.
    public static let remoteConnectionClosed = Self(code: .remoteConnectionClosed)
    /// The request went, then the connection closed (or was reset) before the answer's head came.
    public static let closedBeforeAnswer = Self(code: .closedBeforeAnswer)
    public static let invalidResponse = Self(code: .invalidResponse)
    public static let shutdown = Self(code: .shutdown)

    /// Bounded and free of anything the upstream sent.
    public var shortDescription: String {
        switch code {
        case .connectTimeout: "connect timeout"
        case .connectFailed: "connection refused or unresolvable host"
        case .tlsFailed: "TLS handshake failed"
        case .readTimeout: "no response within the first-byte timeout"
        case .bodyStalled: "the answer stalled for longer than the first-byte timeout"
        case .deadlineExceeded: "request timeout exceeded"
        case .remoteConnectionClosed: "connection closed by the upstream"
        case .closedBeforeAnswer: "connection closed by the upstream before it answered"
        case .invalidResponse: "malformed HTTP response"
        case .shutdown: "gateway shutting down"
        }
    }

    public var description: String { shortDescription }
}
