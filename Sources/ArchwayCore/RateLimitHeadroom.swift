/// Rate-limit headroom read from an upstream's response headers: from its answers, and from its
/// refusals (a 429 says most plainly that nothing is left).
public struct RateLimitHeadroom: Sendable, Hashable {
    public var remainingRequests: Int?
    public var remainingTokens: Int?

    public init(remainingRequests: Int? = nil, remainingTokens: Int? = nil) {
        self.remainingRequests = remainingRequests
        self.remainingTokens = remainingTokens
    }

    /// Whether the upstream said anything about its limits.
    public var isKnown: Bool { remainingRequests != nil || remainingTokens != nil }
}
