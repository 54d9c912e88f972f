// swift-tools-version:6.0
import PackageDescription

// GELU, SiLU, ELU, Softplus and Mish as an mlpsh plugin: `plugin load Activations`.
let package = Package(
    name: "Activations",
    products: [
        .library(name: "Activations", type: .dynamic, targets: ["Activations"]),
    ],
    dependencies: [
        .package(path: "../../Sources/Engine"),
    ],
    targets: [
        .target(name: "Activations", dependencies: [.product(name: "MLPEngine", package: "Engine")]),
    ],
    swiftLanguageModes: [.v5]
)
