import ArchwayOTLP
import ArchwayProviders
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Says once at start-up when no OpenTelemetry collector answers at the configured OTLP endpoint, and
/// how to point Archway at one or switch export off. Without it, a new user sees nothing (the
/// exporter's own errors are throttled) and wonders where the spans went.
struct CollectorProbe: Service {
    let endpoint: String
    let logger: Logger

    /// The OTLP/HTTP endpoint export goes to, from the standard variables; nil when nothing is exported
    /// over OTLP/HTTP (the SDK disabled, every signal `none`, or asked for a protocol not spoken here).
    static func endpoint(environment: [String: String]) -> String? {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return nil }
        let spans = OTLPExportSettings(signal: .traces, environment: environment, defaults: OTLPExportSettings())
        guard spans != nil || OTLPExportSettings.metricsExport(environment: environment) == .otlp else { return nil }
        if let spans { return spans.endpoint }
        if let metrics = environment["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"], !metrics.isEmpty { return metrics }
        if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty { return base }
        return "http://localhost:4318"
    }

    /// Host and port of an endpoint URL; nil without a scheme or a host.
    static func hostAndPort(_ url: String) -> (host: String, port: Int)? {
        guard url.contains("://") else { return nil }
        let origin = UpstreamOrigin.parse(url).origin
        return origin.host.isEmpty ? nil : (origin.host, origin.port)
    }

    func run() async throws {
        guard let (host, port) = Self.hostAndPort(endpoint) else { return }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            try? await channel.close()
        } catch {
            logger.warning(
                "No OpenTelemetry collector answers at \(OTLPExportSettings.withoutUserInfo(endpoint)): spans and OTLP metrics are dropped until one does (GET /metrics still serves the metrics). Point Archway at a collector with OTEL_EXPORTER_OTLP_ENDPOINT, or switch export off with OTEL_SDK_DISABLED=true."
            )
        }
    }
}
