/// USD per million tokens.
public struct ModelPrice: Sendable, Hashable {
    public var input: Double
    public var output: Double
    /// Price of input tokens read from the provider's cache; defaults to `input`.
    public var cachedInput: Double?

    public init(input: Double, output: Double, cachedInput: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput
    }
}

extension ModelPrice {
    /// Cost in USD of one call's usage. Cached input tokens are charged at `cachedInput` when set.
    public func cost(of usage: Usage) -> Double {
        let cached = usage.cacheReadTokens ?? 0
        let uncached = max(usage.inputTokens - cached, 0)
        let inputCost = Double(uncached) * input + Double(cached) * (cachedInput ?? input)
        return (inputCost + Double(usage.outputTokens) * output) / 1_000_000
    }
}
