import NIOSSL

/// Why an upstream HTTP exchange failed below HTTP: the transport maps each to a `GatewayError`.
public struct UpstreamConnectionError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case connectTimeout
        case connectFailed
        case tlsFailed
        case tlsUntrustedCertificate
        case tlsHostnameMismatch
        case tlsTrustStore
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
    /// The upstream's certificate did not verify: an unknown issuer, expired, or not yet valid.
    public static let tlsUntrustedCertificate = Self(code: .tlsUntrustedCertificate)
    /// The upstream's certificate is valid but for another host.
    public static let tlsHostnameMismatch = Self(code: .tlsHostnameMismatch)
    /// No TLS context could be made: the trust roots could not be loaded.
    public static let tlsTrustStore = Self(code: .tlsTrustStore)
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
        case .tlsUntrustedCertificate: "TLS certificate not trusted (unknown issuer, expired or not yet valid)"
        case .tlsHostnameMismatch: "TLS certificate is for another host"
        case .tlsTrustStore: "TLS trust roots could not be loaded"
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

extension UpstreamConnectionError {
    /// A TLS failure as the operator's next step tells it apart: the certificate's trust, its name, or
    /// the rest. BoringSSL's own text is not carried: it is unbounded.
    static func tls(_ error: any Error) -> Self {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return .tlsHostnameMismatch }
        if case NIOSSLError.handshakeFailed(let failure) = error,
           String(describing: failure).contains("CERTIFICATE_VERIFY_FAILED") {
            return .tlsUntrustedCertificate
        }
        return .tlsFailed
    }
}
