public import ArchwayConfig
import ArchwayCore
public import ArchwayTelemetry

/// The names clients may send: configured models, each with the provider that serves it, and routes.
public struct ModelCatalog: Sendable {
    /// A class, so a plan and a call hold it with one reference: copying the two configurations took a retain
    /// for each of their strings and tables, about 25 a request.
    public final class Entry: Sendable {
        public let model: ModelConfiguration
        public let provider: ProviderConfiguration
        /// The CLIENT span names of calls to this model (`chat {gen_ai.request.model}`, `embeddings …`),
        /// made once here rather than interpolated for every call.
        public let chatSpanName: String
        public let embeddingsSpanName: String

        init(model: ModelConfiguration, provider: ProviderConfiguration) {
            self.model = model
            self.provider = provider
            self.chatSpanName = "chat \(model.upstreamModel)"
            self.embeddingsSpanName = "embeddings \(model.upstreamModel)"
        }

        /// The span name of a call of `operation` to this model; nil for an operation that is no model call.
        public func spanName(of operation: GenAIOperation) -> String? {
            switch operation {
            case .chat: chatSpanName
            case .embeddings: embeddingsSpanName
            case .invokeWorkflow: nil
            }
        }
    }

    private let entries: [String: Entry]
    private let routes: [String: RouteConfiguration]
    /// Configured model names in configuration order.
    public let names: [String]
    /// Route names in configuration order.
    public let routeNames: [String]

    public init(configuration: GatewayConfiguration) {
        var entries: [String: Entry] = [:]
        var names: [String] = []
        for model in configuration.models {
            guard let provider = configuration.providers[model.provider] else { continue }
            entries[model.name] = Entry(model: model, provider: provider)
            names.append(model.name)
        }
        self.entries = entries
        self.names = names
        self.routes = Dictionary(configuration.routes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.routeNames = configuration.routes.map(\.name)
    }

    public func route(named name: String) -> RouteConfiguration? {
        routes[name]
    }

    public func entry(named name: String) -> Entry? {
        entries[name]
    }
}
