// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Swish",
    products: [.library(name: "Swish", type: .dynamic, targets: ["Swish"])],
    dependencies: [.package(path: "../../Sources/Engine")],
    targets: [.target(name: "Swish", dependencies: [.product(name: "MLPEngine", package: "Engine")])],
    swiftLanguageModes: [.v5]
)
