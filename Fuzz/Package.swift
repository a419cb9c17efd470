// swift-tools-version:6.2
// libFuzzer targets for what reads client and provider bytes. Not part of `make test` (a fuzz run is
// open-ended); `make fuzz [FUZZ_SECONDS=60]` builds them with coverage instrumentation and runs each.
import PackageDescription

let package = Package(
    name: "archway-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "archway", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Shared by the targets that read a peer's bytes in pieces.
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                .product(name: "ArchwayWire", package: "archway"),
                .product(name: "ArchwayCore", package: "archway"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzUpstream",
            dependencies: [
                .product(name: "ArchwayProviders", package: "archway"),
                "FuzzSupport",
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzIngress",
            dependencies: [
                .product(name: "ArchwayGateway", package: "archway"),
                "FuzzSupport",
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzPolicy",
            dependencies: [
                .product(name: "ArchwayPolicy", package: "archway"),
                .product(name: "ArchwayRouting", package: "archway"),
                .product(name: "ArchwayConfig", package: "archway"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
