// swift-tools-version:6.1
import PackageDescription

// Performance benchmarks for Charter, run with `swift package benchmark` from this directory.
//
// A path dependency on the main package would be named after the checkout's folder, so this package
// compiles the modules it measures from the same sources through symlinks (`Sources/CharterCore` →
// `../Sources/CharterCore`, and so for `CharterJSON` and `CharterBundle`).
let package = Package(
    name: "CharterBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        .target(name: "CharterJSON", path: "Sources/CharterJSON"),
        .target(name: "CharterCore", dependencies: ["CharterJSON"], path: "Sources/CharterCore"),
        .target(
            name: "CharterBundle",
            dependencies: [
                "CharterJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Sources/CharterBundle"
        ),
        // Bundle issue/verify cost next to the raw primitives; a plain executable (see docs/benchmarks.md).
        .executableTarget(
            name: "bundle-bench",
            dependencies: ["CharterBundle", "CharterCore", .product(name: "Crypto", package: "swift-crypto")],
            path: "BundleBench"
        ),
        .executableTarget(
            name: "PolicyResolution",
            dependencies: [
                "CharterCore",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PolicyResolution",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.enableUpcomingFeature("NonisolatedNonsendingByDefault"))
    target.swiftSettings = settings
}
