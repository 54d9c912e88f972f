// swift-tools-version:6.0
import PackageDescription

// Data-parallel training over Open MPI (Debian's openmpi-bin and libopenmpi-dev). mlpsh loads
// this plugin by itself when mpirun starts it; alone, mlpsh never touches MPI.
let package = Package(
    name: "MPI",
    products: [
        .library(name: "MPI", type: .dynamic, targets: ["MPI"]),
    ],
    dependencies: [
        .package(path: "../../Sources/Engine"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "MPI", dependencies: [.product(name: "MLPEngine", package: "Engine"), "CMPI"]),
    ],
    swiftLanguageModes: [.v5]
)
