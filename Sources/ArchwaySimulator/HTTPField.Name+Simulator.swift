import HTTPTypes

extension HTTPField.Name {
    // Force-unwrapping is safe: these are constant, valid field names.
    static let simulatorLatency = HTTPField.Name("x-simulator-latency-ms")!
    static let simulatorTimeToFirstToken = HTTPField.Name("x-simulator-ttft-ms")!
    static let simulatorTokensPerSecond = HTTPField.Name("x-simulator-tokens-per-second")!
    static let simulatorErrorRate = HTTPField.Name("x-simulator-error-rate")!
    static let simulatorErrorStatus = HTTPField.Name("x-simulator-error-status")!
    static let simulatorRateLimitRate = HTTPField.Name("x-simulator-rate-limit-rate")!
    static let simulatorSeed = HTTPField.Name("x-simulator-seed")!
    static let simulatorBreakAfter = HTTPField.Name("x-simulator-break-after")!

    static let traceparent = HTTPField.Name("traceparent")!
    static let xAPIKey = HTTPField.Name("x-api-key")!
    static let anthropicVersion = HTTPField.Name("anthropic-version")!
    static let retryAfter = HTTPField.Name("retry-after")!
    static let xRequestID = HTTPField.Name("x-request-id")!
    static let rateLimitLimitRequests = HTTPField.Name("x-ratelimit-limit-requests")!
    static let rateLimitRemainingRequests = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let rateLimitResetRequests = HTTPField.Name("x-ratelimit-reset-requests")!
    static let rateLimitLimitTokens = HTTPField.Name("x-ratelimit-limit-tokens")!
    static let rateLimitRemainingTokens = HTTPField.Name("x-ratelimit-remaining-tokens")!
    static let rateLimitResetTokens = HTTPField.Name("x-ratelimit-reset-tokens")!
}
