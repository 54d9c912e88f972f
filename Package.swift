// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mlpsh",
    products: [
        // The engine is a dynamic library so that plugins link the very same copy mlpsh does.
        .library(name: "MLPEngine", type: .dynamic, targets: ["MLPEngine"]),
        .library(name: "MLPShell", targets: ["MLPShell"]),
        .executable(name: "mlpsh", targets: ["mlpsh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian (see scripts/install-deps).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapack-dev"])]),
        .systemLibrary(name: "CReadline", path: "Sources/CReadline",
                       providers: [.apt(["libreadline-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),

        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),

        .target(name: "MLPEngine", dependencies: ["CBLAS", "CZlib", "CPNG"]),
        .target(name: "MLPShell", dependencies: ["MLPEngine", "CReadline"]),
        .executableTarget(name: "mlpsh", dependencies: [
            "MLPShell", "MLPEngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "MLPEngineTests", dependencies: ["MLPEngine"]),
        .testTarget(name: "MLPShellTests", dependencies: ["MLPShell", "MLPEngine", "mlpsh"]),
    ],
    swiftLanguageModes: [.v5]
)
