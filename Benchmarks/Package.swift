// swift-tools-version:6.1
// Micro benchmarks of Archway's hot path, kept in their own package (as SwiftNIO does) so the main
// package's tests do not build the benchmark tooling. Run with `make bench-micro`.
import PackageDescription
import class Foundation.ProcessInfo
import struct Foundation.URL

// A path dependency's identity is its folder's name, which is whatever the checkout is called.
let archway = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "ArchwayBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "ArchwayCore", package: archway),
                .product(name: "ArchwayWire", package: archway),
                .product(name: "ArchwayConfig", package: archway),
                .product(name: "ArchwayTelemetry", package: archway),
                .product(name: "ArchwayPrometheus", package: archway),
                .product(name: "ArchwayRouting", package: archway),
                .product(name: "ArchwayPolicy", package: archway),
                .product(name: "ArchwayOTLP", package: archway),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
