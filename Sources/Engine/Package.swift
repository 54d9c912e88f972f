// swift-tools-version:6.0
import PackageDescription

// The engine on its own: tensors on BLAS, the registries, layers, losses, optimizers, data,
// training and checkpoints. It is a package of its own so that its library is dynamic for
// everyone: mlpsh and every plugin link the very same libMLPEngine.so, so types and
// protocol conformances agree across them.
let package = Package(
    name: "Engine",
    products: [
        .library(name: "MLPEngine", type: .dynamic, targets: ["MLPEngine"]),
    ],
    dependencies: [
        // Generated code for ONNX's protocol buffers (ONNX/onnx.pb.swift, scripts/generate-protos).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C libraries from Debian (see scripts/install-deps).
        .systemLibrary(name: "CBLAS", path: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapack-dev"])]),
        .systemLibrary(name: "CZlib", path: "CZlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CPrefetch", path: "CPrefetch"),
        // The worker pool's view of Linux: the affinity mask, a spin-wait hint, yielding.
        .systemLibrary(name: "CThreads", path: "CThreads"),
        // libjpeg-turbo (libjpeg-dev), wrapped in C so that its longjmp errors come back as values.
        .target(name: "CJPEG", path: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        // Direct convolution kernels with 8-float vectors, built for AVX2+FMA and for the
        // baseline x86-64, chosen at load time; optimised in debug builds too.
        .target(name: "CKernels", path: "CKernels", cSettings: [.unsafeFlags(["-O2", "-Wno-psabi"])]),
        .target(name: "MLPEngine", dependencies: ["CBLAS", "CZlib", "CPNG", "CPrefetch", "CThreads", "CJPEG", "CKernels",
                                                 .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                path: "MLPEngine"),
    ],
    swiftLanguageModes: [.v5]
)
