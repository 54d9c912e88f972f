// swift-tools-version:6.0
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder: mlpsh's is whatever the clone is called.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

// libFuzzer targets for mlpsh's parsers: built with `swift build --sanitize=fuzzer
// --sanitize=address` by scripts/fuzz, which picks the target with MLPSH_FUZZ_TARGET.
let package = Package(
    name: "mlpsh-fuzz",
    dependencies: [
        .package(path: "../.."),
        .package(path: "../../Sources/Engine"),
    ],
    targets: [
        .executableTarget(
            name: "mlpsh-fuzz",
            dependencies: [.product(name: "MLPShell", package: rootIdentity), .product(name: "MLPEngine", package: "Engine")],
            // libFuzzer supplies main().
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v5]
)
