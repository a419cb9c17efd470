import ArchwayProviders
import Synchronization

/// The adapters by provider name. Embedded simulators register once they are listening,
/// which is why this is a locked table rather than a constant.
final class ProviderRegistry: Sendable {
    private let adapters: Mutex<[String: any ProviderAdapter]>

    init(_ adapters: [String: any ProviderAdapter]) {
        self.adapters = Mutex(adapters)
    }

    func adapter(for provider: String) -> (any ProviderAdapter)? {
        adapters.withLock { $0[provider] }
    }

    func register(_ adapter: any ProviderAdapter, for provider: String) {
        adapters.withLock { $0[provider] = adapter }
    }
}
