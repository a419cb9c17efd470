// swift-tools-version:6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "archway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "archway", targets: ["archway"]),
        // Libraries for the micro benchmarks package in Benchmarks/ (and embedding).
        .library(name: "ArchwayCore", targets: ["ArchwayCore"]),
        .library(name: "ArchwayWire", targets: ["ArchwayWire"]),
        .library(name: "ArchwayConfig", targets: ["ArchwayConfig"]),
        .library(name: "ArchwayTelemetry", targets: ["ArchwayTelemetry"]),
        .library(name: "ArchwayPrometheus", targets: ["ArchwayPrometheus"]),
        .library(name: "ArchwayRouting", targets: ["ArchwayRouting"]),
        .library(name: "ArchwayProviders", targets: ["ArchwayProviders"]),
        .library(name: "ArchwayExecution", targets: ["ArchwayExecution"]),
        .library(name: "ArchwayPolicy", targets: ["ArchwayPolicy"]),
        .library(name: "ArchwayOTLP", targets: ["ArchwayOTLP"]),
        .library(name: "ArchwayGateway", targets: ["ArchwayGateway"]),
        // Issue 16's spike (bench/spike/): built and measured by `make bench` only.
        .executable(name: "bench-nio-forwarder", targets: ["BenchNIOForwarder"]),
        .executable(name: "bench-async-floor", targets: ["BenchAsyncFloor"]),
        .executable(name: "bench-stream-load", targets: ["BenchStreamLoad"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        // NIO's HTTP/1 <-> HTTPTypes codec, for Archway's ingress (Hummingbird uses the same).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        // Tests only: a self-signed certificate for the TLS upstream tests.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // The module picture (README "Architecture"): each target depends only on what it imports.
        .target(
            name: "ArchwayCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwayWire",
            dependencies: [
                "ArchwayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwayConfig",
            dependencies: [
                "ArchwayCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strictSettings
        ),
        // API packages only: never swift-otel, never a metrics backend.
        .target(
            name: "ArchwayTelemetry",
            dependencies: [
                "ArchwayCore",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // `GET /metrics`: the OTLP metrics under an OpenTelemetry Collector's Prometheus names.
        .target(
            name: "ArchwayPrometheus",
            dependencies: [
                "ArchwayTelemetry",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwayRouting",
            dependencies: [
                "ArchwayCore", "ArchwayConfig", "ArchwayTelemetry",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwayProviders",
            dependencies: [
                "ArchwayCore", "ArchwayWire", "ArchwayConfig", "ArchwayTelemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        // The one way to call a model: call scope, stages, executor, model streams, outcome sink. No HTTP server.
        .target(
            name: "ArchwayExecution",
            dependencies: [
                "ArchwayCore", "ArchwayConfig", "ArchwayProviders", "ArchwayRouting", "ArchwayTelemetry", "ArchwayWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The policy stage: PII detection and redaction, prompt-injection scoring.
        .target(
            name: "ArchwayPolicy",
            dependencies: [
                "ArchwayCore", "ArchwayConfig", "ArchwayExecution", "ArchwayTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Declared workflows: DAGs of model calls through the execution layer, under one deadline.
        .target(
            name: "ArchwayWorkflows",
            dependencies: [
                "ArchwayCore", "ArchwayConfig", "ArchwayExecution", "ArchwayTelemetry", "ArchwayWire",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwaySimulator",
            dependencies: [
                "ArchwayCore", "ArchwayWire", "ArchwayConfig",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ArchwayGateway",
            dependencies: [
                "ArchwayCore", "ArchwayWire", "ArchwayConfig", "ArchwayTelemetry", "ArchwayPrometheus",
                "ArchwayRouting", "ArchwayProviders", "ArchwayExecution", "ArchwayWorkflows", "ArchwayPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Archway's tracer and its OTLP/HTTP export of spans and GenAI events (log records with
        // `event_name`), from the official opentelemetry-proto definitions compiled with swift-protobuf
        // (generated code committed).
        .target(
            name: "ArchwayOTLP",
            dependencies: [
                "ArchwayTelemetry",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: strictSettings
        ),
        // jemalloc as the process's allocator on Linux (Debian's libjemalloc-dev, which `make` installs):
        // it returns a load peak's freed pages, which glibc's malloc kept resident. Its settings are in
        // allocator.c.
        .target(
            name: "CArchwayAllocator",
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        // Composes the gateway with the embedded simulator and bootstraps swift-otel.
        .executableTarget(
            name: "archway",
            dependencies: [
                "ArchwayGateway", "ArchwaySimulator", "ArchwayConfig", "ArchwayTelemetry", "ArchwayPrometheus", "ArchwayOTLP", "ArchwayPolicy",
                "CArchwayAllocator",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "BenchNIOForwarder",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/spike/NIOForwarder"
        ),
        .executableTarget(
            name: "BenchAsyncFloor",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/spike/AsyncFloor"
        ),
        .executableTarget(
            name: "BenchStreamLoad",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "bench/spike/StreamLoad"
        ),
        // Test support shared by the test targets: a scripted OpenAI-compatible upstream on loopback.
        .target(
            name: "ArchwayTestSupport",
            dependencies: [
                "ArchwayCore", "ArchwayConfig", "ArchwayExecution", "ArchwayProviders", "ArchwayRouting", "ArchwayTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayCoreTests",
            dependencies: ["ArchwayCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayWireTests",
            dependencies: ["ArchwayWire", "ArchwayCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayConfigTests",
            dependencies: ["ArchwayConfig"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayTelemetryTests",
            dependencies: [
                "ArchwayTelemetry",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayPrometheusTests",
            dependencies: [
                "ArchwayPrometheus", "ArchwayTelemetry", "ArchwayCore",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayRoutingTests",
            dependencies: [
                "ArchwayRouting", "ArchwayConfig", "ArchwayCore", "ArchwayTelemetry", "ArchwayTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayProvidersTests",
            dependencies: [
                "ArchwayProviders", "ArchwayConfig", "ArchwayCore", "ArchwayTelemetry", "ArchwayTestSupport", "ArchwayWire",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayExecutionTests",
            dependencies: [
                "ArchwayExecution", "ArchwayProviders", "ArchwayRouting", "ArchwayConfig", "ArchwayCore", "ArchwayTelemetry",
                "ArchwayTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayOTLPTests",
            dependencies: [
                "ArchwayOTLP",
                "ArchwayTelemetry",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayWorkflowsTests",
            dependencies: [
                "ArchwayWorkflows", "ArchwayExecution", "ArchwayProviders", "ArchwayRouting", "ArchwayConfig", "ArchwayCore",
                "ArchwayTelemetry", "ArchwayTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayPolicyTests",
            dependencies: [
                "ArchwayPolicy", "ArchwayExecution", "ArchwayProviders", "ArchwayRouting", "ArchwayConfig", "ArchwayCore",
                "ArchwayTelemetry", "ArchwayTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwaySimulatorTests",
            dependencies: ["ArchwaySimulator", "ArchwayWire", "ArchwayCore", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ArchwayGatewayTests",
            dependencies: [
                "ArchwayGateway", "ArchwaySimulator", "ArchwayConfig", "ArchwayTelemetry", "ArchwayPrometheus", "ArchwayCore", "ArchwayWire",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                "ArchwayTestSupport",
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
