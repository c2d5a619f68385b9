// swift-tools-version:6.1
import PackageDescription

// Performance benchmarks for Charter, run with `swift package benchmark` from this directory.
//
// CharterCore is not a library product of the main package, so this package compiles the same sources
// through the `Sources/CharterCore` symlink (to `../Sources/CharterCore`).
let package = Package(
    name: "CharterBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"])
    ],
    targets: [
        .target(name: "CharterCore", path: "Sources/CharterCore"),
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
