public import ArchwayProviders
import Synchronization

/// The adapters by provider name. Embedded providers register once they are listening, which is why
/// this is a locked table rather than a constant.
public final class ProviderRegistry: Sendable {
    private let adapters: Mutex<[String: any ProviderAdapter]>

    public init(_ adapters: [String: any ProviderAdapter] = [:]) {
        self.adapters = Mutex(adapters)
    }

    public func adapter(for provider: String) -> (any ProviderAdapter)? {
        adapters.withLock { $0[provider] }
    }

    public func register(_ adapter: any ProviderAdapter, for provider: String) {
        adapters.withLock { $0[provider] = adapter }
    }
}
