import ArchwayCore
@testable import ArchwayGateway
import Testing

@Suite("Which envelope an error is answered in")
struct ErrorResponseTests {
    /// The Anthropic wire's paths get its envelope however the path is written: the router reads
    /// `//v1/messages` as `/v1/messages`, and so must this.
    @Test func anthropicPathsAreReadAsTheRouterReadsThem() {
        for path in ["/v1/messages", "//v1/messages", "/v1//messages/", "/v1/messages/count_tokens", "///v1/messages"] {
            #expect(GatewayError.isAnthropicPath(path), "\(path)")
        }
        for path in ["/v1/messagesX", "/v1/chat/completions", "/messages", "/v2/messages", "/", ""] {
            #expect(!GatewayError.isAnthropicPath(path), "\(path)")
        }
    }
}
