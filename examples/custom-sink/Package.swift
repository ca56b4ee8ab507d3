// swift-tools-version:6.1
import PackageDescription

// A Lifeboat binary with one more target type: `encrypted://`, which encrypts everything another target stores.
let package = Package(
    name: "LifeboatEncrypted",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "lifeboat-encrypted", targets: ["lifeboat-encrypted"])],
    dependencies: [
        // Outside this repository: .package(url: "<Lifeboat's git URL>", from: "<a release>")
        .package(name: "Lifeboat", path: "../.."),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(
            name: "EncryptedSink",
            dependencies: [
                .product(name: "LifeboatCore", package: "Lifeboat"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(
            name: "lifeboat-encrypted",
            dependencies: ["EncryptedSink", .product(name: "LifeboatCLI", package: "Lifeboat")]),
        .testTarget(
            name: "EncryptedSinkTests",
            dependencies: [
                "EncryptedSink",
                .product(name: "LifeboatCLI", package: "Lifeboat"),
                .product(name: "LifeboatSinkTests", package: "Lifeboat"),
            ]),
    ]
)
