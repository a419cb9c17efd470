import ArchwayCore
import Testing

@Suite struct GatewayErrorTests {
    @Test(arguments: [
        (500, 502, "500"), (502, 502, "502"), (503, 503, "503"), (504, 504, "504"), (429, 429, "429"),
        (401, 502, "401"), (400, 400, "400"), (422, 400, "422"),
    ])
    func upstreamStatusMapping(upstream: Int, client: Int, errorType: String) {
        let error = GatewayError.upstreamStatus(upstream, provider: "p", excerpt: "boom")
        #expect(Int(error.status.code) == client)
        #expect(error.shortDescription == errorType)
        #expect(error.message.contains("HTTP \(upstream)"))
        #expect(error.message.contains("boom"))
    }

    @Test func messagesAndLabelsAreBounded() {
        let error = GatewayError.invalidRequest(String(repeating: "x", count: 5_000))
        #expect(error.message.utf8.count <= 1_004)
        let label = GatewayError(status: .badRequest, type: "t", message: "m", shortDescription: String(repeating: "é", count: 100))
        #expect(label.shortDescription.utf8.count <= 68)
    }

    @Test func retryableClasses() {
        #expect(GatewayError.upstreamStatus(503, provider: "p", excerpt: nil).isRetryable)
        #expect(GatewayError.upstreamTimeout(provider: "p", phase: "x").isRetryable)
        #expect(!GatewayError.upstreamStatus(400, provider: "p", excerpt: nil).isRetryable)
        #expect(!GatewayError.modelNotFound("m").isRetryable)
    }

    @Test func anUpstream404IsABadGatewayNamingWhatWasAsked() {
        let error = GatewayError.upstreamNotFound(provider: "claude", path: "/v1/messages", model: "claude-x")
        #expect(error.status == .badGateway)
        #expect(error.code == "upstream_not_found")
        #expect(error.message.contains("'claude'") && error.message.contains("/v1/messages") && error.message.contains("claude-x"))
        #expect(!error.isRetryable)
        #expect(error.allowsFallback)
    }

    @Test func anyErrorBecomesAClientFacingOne() {
        struct Opaque: Error {}
        #expect(GatewayError(CancellationError()).isClientClosed)
        #expect(GatewayError(Opaque()).status == .internalServerError)
        #expect(GatewayError(GatewayError.invalidJSON("x")).code == "invalid_json")
    }

    @Test func priceComputesCostWithCachedTokens() {
        let price = ModelPrice(input: 2.0, output: 10.0, cachedInput: 0.5)
        let cost = price.cost(of: Usage(inputTokens: 1_000, outputTokens: 500, cacheReadTokens: 400))
        #expect(abs(cost - (600 * 2.0 + 400 * 0.5 + 500 * 10.0) / 1_000_000) < 1e-12)
    }
}
