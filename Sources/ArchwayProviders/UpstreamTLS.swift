import NIOSSL
import Synchronization

/// The TLS context shared by every pool, made on first use: loading the trust roots takes milliseconds,
/// and a gateway with only plain-HTTP upstreams (the simulator, local model servers) never needs it.
final class UpstreamTLS: Sendable {
    private let configuration: TLSConfiguration
    private let context = Mutex<Result<NIOSSLContext, UpstreamConnectionError>?>(nil)

    init(configuration: TLSConfiguration) {
        var configuration = configuration
        configuration.applicationProtocols = ["http/1.1"]
        // How long a close waits for the peer's `close_notify` before closing the socket anyway. Callers no
        // longer wait for it; this bounds how long a closed connection's socket lingers.
        configuration.shutdownTimeout = .seconds(1)
        self.configuration = configuration
    }

    /// The context, or `tlsTrustStore` when none can be made (no usable trust store, say).
    func makeContext() throws(UpstreamConnectionError) -> NIOSSLContext {
        try context.withLock { context in
            if let context { return context }
            let made = Result { try NIOSSLContext(configuration: configuration) }.mapError { _ in UpstreamConnectionError.tlsTrustStore }
            context = made
            return made
        }.get()
    }
}
