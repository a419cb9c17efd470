import ArchwayConfig
import ArchwayGateway
import ArchwayOTLP
import ArchwayPolicy
import ArchwayPrometheus
import ArchwaySimulator
import ArchwayTelemetry
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import OTel
import ServiceLifecycle
import Tracing

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway. OpenTelemetry export is configured by the standard OTEL_* environment variables."
    )

    @Option(name: .shortAndLong, help: "Path of the YAML configuration file.")
    var config: String

    func run() async throws {
        // Swift Concurrency runs on NIO's event loops instead of its own thread pool. A request's task then
        // resumes on the event loop whose socket woke it, so reading the request, calling the upstream and
        // writing the answer stay on one thread instead of hopping between two pools at every read and
        // write (each hop a thread wake-up). Installed first, before this command starts any task.
        EventLoopGlobalExecutor.install()
        let environment = ProcessInfo.processInfo.environment
        let configuration: GatewayConfiguration
        do {
            configuration = try ConfigurationLoader(environment: environment).load(file: config)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }

        let logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, logLevel: logLevel) }
        let logger = Logger(label: "archway")
        let allocator = AllocatorReport.current
        if let allocator {
            logger.info("allocator \(allocator)")
        }

        // Background work (telemetry export, emptying the allocator's thread caches) runs on a thread of its
        // own, off the event loops.
        let backgroundExecutor = BatchingTaskExecutor(name: "archway-background")
        var services: [any Service] = []
        if allocator != nil {
            let flush = ThreadCacheFlushService(eventLoops: MultiThreadedEventLoopGroup.singleton)
            services.append(ServiceOnExecutor(service: flush, executor: backgroundExecutor))
        }
        let metricSet = GenAIMetricSet(environment: environment)
        // `GET /metrics` is always served; OTLP export comes beside it unless the SDK is disabled.
        let prometheus = PrometheusExposition()
        let tracer: any Tracer
        let metrics: any MetricsFactory
        var events: Logger?
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" {
            tracer = PassThroughTracer(environment: environment)
            metrics = prometheus
        } else {
            var otel = OTel.Configuration.default
            // The resource every signal shares, decoded as the specification asks (swift-otel would read
            // OTEL_RESOURCE_ATTRIBUTES undecoded: `shop%2Ceu` in metrics, `shop,eu` in traces).
            otel.resourceAttributes = OTLPExportSettings.resourceAttributes(environment: environment)
            otel.serviceName = otel.resourceAttributes["service.name"] ?? "archway"
            otel.logs.enabled = false
            // Spans are Archway's own (`OTLPTracer`): swift-otel exports the metrics only.
            otel.traces.enabled = false
            // The SDK's info lines (one per applied variable) are noise; OTEL_LOG_LEVEL still overrides.
            otel.diagnosticLogLevel = .warning
            otel.metrics.valueHistogramBuckets = GenAIMetricSet.histogramBuckets
            // The SDK's and Archway's exporters warn through one throttled log.
            let diagnostics = Logger(label: "archway.otel") { label in ThrottledLogHandler(label: label, interval: .seconds(60)) }
            otel.diagnosticLogger = .custom(diagnostics)
            // swift-otel reads the headers variables itself, without the percent-decoding the OTLP
            // specification asks for (Archway's span and log exporters decode): `Bearer%20…` went out as
            // it was written, and a vendor refused every metrics export. It gets the decoded headers in its
            // configuration instead, and the variables (already read into `environment`) are taken out of
            // its sight, so a value holding a decoded comma stays whole too.
            otel.metrics.otlpExporter.headers = OTLPExportSettings.headers(signalVariable: "METRICS", environment: environment)
                .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            for variable in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME"] { unsetenv(variable) }
            // The variables of what Archway exports itself (spans, events, sampling, compression, which
            // swift-otel's metrics exporter lacks) are not swift-otel's to read: it parsed them anyway and
            // warned of values it would have replaced (`ALWAYS_OFF`, `GZIP`), which Archway applies.
            for variable in environment.keys where Self.readByArchwayAlone(variable) { unsetenv(variable) }
            var exporters: [any Service] = []
            var metricsFactories: [any MetricsFactory] = [prometheus]
            switch OTLPExportSettings.metricsExport(environment: environment) {
            case .otlp:
                let otlpMetrics = try OTel.makeMetricsBackend(configuration: otel)
                exporters.append(ServiceOnExecutor(service: otlpMetrics.service, executor: backgroundExecutor))
                metricsFactories.insert(otlpMetrics.factory, at: 0)
            case .none:
                break
            case .unsupported(let reason):
                // swift-otel stops (`console`) or traps (gRPC) on these: a warning and no export instead.
                logger.warning("\(reason); metrics are not exported over OTLP")
            }
            for signal in [OTLPExportSettings.Signal.traces, .logs] {
                if let value = OTLPExportSettings.unsupportedExporter(signal, environment: environment) {
                    logger.warning("OTEL_\(signal.rawValue.uppercased())_EXPORTER=\(value): only otlp (or none) is supported for \(signal.rawValue); they are not exported")
                } else if let proto = OTLPExportSettings.unsupportedProtocol(signal, environment: environment) {
                    logger.warning("OTLP protocol \(proto) for \(signal.rawValue): only http/protobuf is spoken; they are not exported")
                }
            }
            // A gateway ends three spans per request. Spans queue as values and leave in batches four
            // times a second: up to 8,192 per request to the collector, from a queue of 16,384 (about
            // 4k requests/s between two ticks). OTEL_BSP_* still override these.
            let spanDefaults = OTLPExportSettings(maxExportBatchSize: 8_192, scheduleDelay: .milliseconds(250), maxQueueSize: 16_384)
            var spanExporter: OTLPSpanExporter?
            if let settings = OTLPExportSettings(signal: .traces, environment: environment, defaults: spanDefaults) {
                let exporter = OTLPSpanExporter(settings: settings, diagnostics: diagnostics)
                exporters.append(ServiceOnExecutor(service: exporter, executor: backgroundExecutor))
                spanExporter = exporter
            }
            // GenAI events (`gen_ai.evaluation.result`) are OTLP log records with an event name, parented
            // to the current span through the tracer's logging metadata provider.
            if let settings = OTLPExportSettings(signal: .logs, environment: environment, defaults: OTLPExportSettings()) {
                let exporter = OTLPLogExporter(settings: settings, diagnostics: diagnostics)
                events = Logger(label: "archway.events") { label in exporter.eventHandler(label: label, metadataProvider: OTLPTracer.loggingMetadataProvider) }
                exporters.append(ServiceOnExecutor(service: exporter, executor: backgroundExecutor))
            }
            // The exporters' batches are serialised off the event loops; their clean-up (which shuts an
            // HTTP client down synchronously, a trap on an event loop) happens there too.
            // Their final flush at shutdown is bounded on its own (`telemetry.flush_timeout`). With no
            // exporter there is nothing to run: a service that returns at once would stop the gateway.
            if !exporters.isEmpty {
                services.append(BoundedShutdownService(
                    services: exporters,
                    budget: configuration.telemetry.flushTimeout,
                    exceeded: "telemetry flush did not finish within telemetry.flush_timeout (\(configuration.telemetry.flushTimeout)); what it had not exported is dropped",
                    logger: logger
                ))
            }
            tracer = OTLPTracer(environment: environment, exporter: spanExporter)
            metrics = metricsFactories.count == 1 ? prometheus : MultiplexMetricsHandler(factories: metricsFactories)
        }
        InstrumentationSystem.bootstrap(tracer)
        MetricsSystem.bootstrap(metrics)
        let telemetry = GenAITelemetry(
            tracer: tracer,
            metrics: metrics,
            metricSet: metricSet,
            captureContent: configuration.telemetry.captureContent,
            events: events,
            contentFilter: try PolicyStage.contentFilter(for: configuration)
        )

        let listen = configuration.listen
        let connections = ClientConnections()
        let application = Gateway.makeApplication(
            configuration: configuration,
            telemetry: telemetry,
            prometheus: prometheus,
            embeddedProviders: Self.embeddedSimulator,
            connections: connections,
            logger: logger
        ) { channel in
            let port = channel.localAddress?.port ?? listen.port
            let host = listen.host.contains(":") ? "[\(listen.host)]" : listen.host
            logger.info("archway listening on http://\(host):\(port)")
        }
        // In-flight requests and streams get server.shutdown_timeout after SIGTERM; then they are cut (their
        // spans end, as failed) and the services before this one, the exporters among them, shut down in
        // turn: the cut requests' spans are in the final flush.
        services.append(BoundedShutdownService(
            services: [application],
            budget: configuration.server.shutdownTimeout,
            exceeded: "shutdown_timeout (\(configuration.server.shutdownTimeout)) reached with requests in flight; they were cut",
            beforeCancelling: { await connections.cutAll() },
            logger: logger
        ))
        var configured = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) }
        if let endpoint = CollectorProbe.endpoint(environment: environment) {
            // Runs once and ends; its end shuts nothing down.
            configured.append(.init(service: CollectorProbe(endpoint: endpoint, logger: logger), successTerminationBehavior: .ignore))
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: configured,
            gracefulShutdownSignals: [.sigterm, .sigint, .sighup],
            logger: logger
        )
        // A backstop past both budgets (requests, then the telemetry flush), for a service that ignores
        // its cancellation.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.server.shutdownTimeout + configuration.telemetry.flushTimeout + .seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        var failure: (any Error)?
        do {
            try await group.run()
        } catch is CancellationError {
            // The backstop: something outlived both budgets and was cancelled. Exit normally.
            logger.warning("shutdown took longer than shutdown_timeout and flush_timeout together; stopped the remaining work")
        } catch let error as IOError where Self.isBindFailure(error) {
            // The listening address, named, instead of SwiftNIO's description of its bind call.
            printToStandardError("archway cannot listen on \(listen.host):\(listen.port): \(Self.bindProblem(error.errnoCode))")
            failure = ExitCode(1)
        } catch {
            failure = error
        }
        // swift-otel's OTLP/HTTP exporters shut their HTTP client down once more, synchronously, when they
        // are released, which traps on an event loop thread, where this task runs. Their graceful shutdown
        // has already run: end the process while the tracer and services still reference them.
        withExtendedLifetime((services, group, tracer, metrics)) {
            Self.exit(withError: failure)
        }
    }
}

extension ServeCommand {
    /// Whether an `OTEL_*` variable is about the spans, events or sampling Archway exports itself, and so
    /// not for swift-otel, which exports only the metrics.
    static func readByArchwayAlone(_ variable: String) -> Bool {
        variable.hasPrefix("OTEL_EXPORTER_OTLP_TRACES_") || variable.hasPrefix("OTEL_EXPORTER_OTLP_LOGS_")
            || variable.hasPrefix("OTEL_TRACES_") || variable.hasPrefix("OTEL_LOGS_") || variable.hasPrefix("OTEL_BSP_")
            || variable.hasPrefix("OTEL_BLRP_") || variable == "OTEL_EXPORTER_OTLP_COMPRESSION" || variable == "OTEL_SDK_DISABLED"
            || variable == "OTEL_PROPAGATORS" || variable.hasSuffix("ATTRIBUTE_VALUE_LENGTH_LIMIT")
    }

    /// A listening socket that could not be bound, which is the address's fault, not the gateway's.
    static func isBindFailure(_ error: IOError) -> Bool {
        [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode)
    }

    static func bindProblem(_ code: CInt) -> String {
        switch code {
        case EADDRINUSE: "the address is already in use (another archway, or another server, listens there)"
        case EACCES: "permission denied (ports below 1024 need privileges)"
        default: "the address is not one of this machine's"
        }
    }

    /// The built-in simulator, embedded for each `kind: simulator` provider without a `base_url`.
    static let embeddedSimulator: EmbeddedProviderFactory = { provider, onListening in
        Simulator.makeApplication(host: "127.0.0.1", port: 0, settings: provider.simulator, logger: Logger(label: "archway.simulator")) { channel in
            await onListening(channel.localAddress?.port ?? 0)
        }
    }
}

func printToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
