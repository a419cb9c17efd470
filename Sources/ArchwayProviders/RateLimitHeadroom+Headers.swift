import ArchwayCore
import NIOHTTP1

extension RateLimitHeadroom {
    /// Read from OpenAI's `x-ratelimit-remaining-*` or Anthropic's `anthropic-ratelimit-*-remaining`.
    init(_ headers: HTTPHeaders) {
        let requests = headers.first(name: "x-ratelimit-remaining-requests") ?? headers.first(name: "anthropic-ratelimit-requests-remaining")
        let tokens = headers.first(name: "x-ratelimit-remaining-tokens") ?? headers.first(name: "anthropic-ratelimit-tokens-remaining")
        self.init(remainingRequests: requests.flatMap { Int($0) }, remainingTokens: tokens.flatMap { Int($0) })
    }
}
