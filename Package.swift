// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mlpsh",
    products: [
        .library(name: "MLPShell", targets: ["MLPShell"]),
        .executable(name: "mlpsh", targets: ["mlpsh"]),
    ],
    dependencies: [
        // The engine is its own package (Sources/Engine) so that mlpsh links its dynamic
        // library, the same one plugins link.
        .package(path: "Sources/Engine"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // HMAC-SHA256, which signs the notebook kernel's messages.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CReadline", path: "Sources/CReadline",
                       providers: [.apt(["libreadline-dev"])]),
        // librsvg and cairo, for figures as PNG rendered from their SVG.
        .systemLibrary(name: "CRSVG", path: "Sources/CRSVG", pkgConfig: "librsvg-2.0",
                       providers: [.apt(["librsvg2-dev"])]),
        // SQLite, for the run history.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // ZeroMQ, the notebook kernel's sockets.
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .target(name: "MLPShell", dependencies: [.product(name: "MLPEngine", package: "Engine"), "CReadline", "CRSVG", "CSQLite", "CZMQ",
                                                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                                                .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(name: "mlpsh", dependencies: [
            "MLPShell", .product(name: "MLPEngine", package: "Engine"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "MLPEngineTests", dependencies: [.product(name: "MLPEngine", package: "Engine")]),
        .testTarget(name: "MLPShellTests", dependencies: ["MLPShell", .product(name: "MLPEngine", package: "Engine"), "mlpsh"]),
    ],
    swiftLanguageModes: [.v5]
)
