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
    ],
    targets: [
        .systemLibrary(name: "CReadline", path: "Sources/CReadline",
                       providers: [.apt(["libreadline-dev"])]),
        .target(name: "MLPShell", dependencies: [.product(name: "MLPEngine", package: "Engine"), "CReadline"]),
        .executableTarget(name: "mlpsh", dependencies: [
            "MLPShell", .product(name: "MLPEngine", package: "Engine"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "MLPEngineTests", dependencies: [.product(name: "MLPEngine", package: "Engine")]),
        .testTarget(name: "MLPShellTests", dependencies: ["MLPShell", .product(name: "MLPEngine", package: "Engine"), "mlpsh"]),
    ],
    swiftLanguageModes: [.v5]
)
