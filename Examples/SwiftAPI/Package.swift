// swift-tools-version:6.0
import PackageDescription

// The walkthrough's MLP trained with the engine alone, as a Swift program that depends on the
// engine's package. From this folder: swift run -c release train-mnist [--epochs N] [--limit N]
let package = Package(
    name: "SwiftAPI",
    dependencies: [
        .package(path: "../../Sources/Engine"),
    ],
    targets: [
        .executableTarget(name: "train-mnist", dependencies: [.product(name: "MLPEngine", package: "Engine")]),
    ],
    swiftLanguageModes: [.v5]
)
