// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Lifeboat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"]),
        .library(name: "LifeboatCore", targets: ["LifeboatCore"]),
        .library(name: "LifeboatCLI", targets: ["LifeboatCLI", "CLifeboatSignals"]),
        .library(name: "LifeboatSinkTests", targets: ["LifeboatSinkTests"]),
        .library(name: "LifeboatExecSink", targets: ["LifeboatExecSink"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),

        // The framework: protocols, engine, manifest, config. Imports no plugin and no C module.
        .target(
            name: "LifeboatCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]),

        // Built-in plugins: each depends on LifeboatCore (and its own C library) only.
        .target(
            name: "LifeboatPostgres", dependencies: ["LifeboatCore", "CLibPQ"], path: "Plugins/PostgresSource"),
        .target(name: "LifeboatLocalSink", dependencies: ["LifeboatCore"], path: "Plugins/LocalSink"),
        .target(name: "LifeboatZstd", dependencies: ["LifeboatCore", "CZstd"], path: "Plugins/ZstdSink"),
        .target(
            name: "LifeboatS3Sink",
            dependencies: ["LifeboatCore", "CCurl", .product(name: "Crypto", package: "swift-crypto")],
            path: "Plugins/S3Sink"),
        .target(name: "LifeboatExecSink", dependencies: ["LifeboatCore"], path: "Plugins/ExecSink"),

        // The command line: thin commands that wire the built-in plugins into a registry.
        .target(
            name: "LifeboatCLI",
            dependencies: [
                "LifeboatCore", "LifeboatPostgres", "LifeboatLocalSink", "LifeboatZstd", "LifeboatS3Sink",
                "LifeboatExecSink", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "CLifeboatSignals"),
        .target(
            name: "LifeboatSinkTests",
            dependencies: ["LifeboatCore", .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(name: "lifeboat", dependencies: ["LifeboatCLI", "CLifeboatSignals"]),

        .testTarget(name: "SystemLibraryTests", dependencies: ["CLibPQ", "CZstd", "CCurl"]),
        .testTarget(name: "LifeboatCoreTests", dependencies: ["LifeboatCore"]),
        .testTarget(name: "S3SinkTests", dependencies: ["LifeboatCore", "LifeboatS3Sink", "LifeboatSinkTests"]),
        .testTarget(name: "LocalSinkTests", dependencies: ["LifeboatCore", "LifeboatLocalSink", "LifeboatSinkTests"]),
        .testTarget(name: "ExecSinkTests", dependencies: ["LifeboatCore", "LifeboatExecSink", "LifeboatSinkTests"]),
        .testTarget(
            name: "ZstdSinkTests",
            dependencies: ["LifeboatCore", "LifeboatZstd", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "LifeboatCore", "LifeboatCLI", "LifeboatPostgres", "LifeboatLocalSink", "LifeboatZstd", "LifeboatS3Sink",
            ]),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}
