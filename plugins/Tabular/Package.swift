// swift-tools-version:6.0
import PackageDescription

// For tables of numbers: a CSV dataset, layer_norm, the focal loss and the Lion optimizer: `plugin load Tabular`.
let package = Package(
    name: "Tabular",
    products: [
        .library(name: "Tabular", type: .dynamic, targets: ["Tabular"]),
    ],
    dependencies: [
        .package(path: "../../Sources/Engine"),
    ],
    targets: [
        .target(name: "Tabular", dependencies: [.product(name: "MLPEngine", package: "Engine")]),
    ],
    swiftLanguageModes: [.v5]
)
