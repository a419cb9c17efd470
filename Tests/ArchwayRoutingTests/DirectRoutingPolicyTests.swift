import ArchwayConfig
import ArchwayCore
import ArchwayRouting
import ArchwayTelemetry
import Testing

@Suite struct DirectRoutingPolicyTests {
    let configuration: GatewayConfiguration

    init() throws {
        configuration = try ConfigurationLoader(environment: [:]).load(yaml: """
        providers:
          p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
        models:
          first: {provider: p, model: first-upstream}
          second: {provider: p}
        """)
    }

    @Test func aConfiguredNameIsServedByThatModelUnderTheTimeout() throws {
        let policy = DirectRoutingPolicy(catalog: ModelCatalog(configuration: configuration), requestTimeout: .seconds(30))
        let now = ContinuousClock.now
        let plan = try policy.plan(for: RoutingRequest(model: "first"), now: now)
        #expect(plan.attempts.map(\.model.upstreamModel) == ["first-upstream"])
        #expect(plan.deadline == now + .seconds(30))
        #expect(plan.decision == nil)
    }

    @Test func anUnknownNameIsModelNotFound() {
        let policy = DirectRoutingPolicy(catalog: ModelCatalog(configuration: configuration), requestTimeout: .seconds(30))
        #expect(throws: GatewayError.modelNotFound("nope")) { try policy.plan(for: RoutingRequest(model: "nope"), now: .now) }
    }

    @Test func aCatalogEntryNamesItsCallsSpansAfterTheUpstreamModel() throws {
        let catalog = ModelCatalog(configuration: configuration)
        let first = try #require(catalog.entry(named: "first"))
        #expect(first.spanName(of: .chat) == "chat first-upstream")
        #expect(first.spanName(of: .embeddings) == "embeddings first-upstream")
        #expect(first.spanName(of: .invokeWorkflow) == nil)
        #expect(try #require(catalog.entry(named: "second")).spanName(of: .chat) == "chat second")
    }

    @Test func theCatalogKeepsConfigurationOrder() {
        #expect(ModelCatalog(configuration: configuration).names == ["first", "second"])
    }
}
