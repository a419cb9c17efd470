public import ArchwayConfig
import ArchwayCore

/// The model names clients may send, each with the configured model and the provider that serves it.
public struct ModelCatalog: Sendable {
    public struct Entry: Sendable {
        public var model: ModelConfiguration
        public var provider: ProviderConfiguration
    }

    private let entries: [String: Entry]
    /// Client-facing names in configuration order.
    public let names: [String]

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
    }

    public func entry(named name: String) -> Entry? {
        entries[name]
    }
}
