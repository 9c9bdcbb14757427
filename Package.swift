// swift-tools-version:6.1
import PackageDescription

// Numeric targets are always optimised for the host's baseline ISA only (no -march=native):
// SIMD paths that need more are chosen at run time.
let package = Package(
    name: "Phosphor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "phosphor", targets: ["phosphor"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "ImageIO", targets: ["ImageIO"]),
        .library(name: "Samplers", targets: ["Samplers"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System-library shims: a module map and a header, nothing else.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CNCurses", path: "Sources/CNCurses"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libpng reports errors by longjmp, which Swift cannot catch: the setjmp frames live in C.
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png16")]),

        // Hot elementwise loops compiled per SIMD level and picked at load time (target_clones).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast"])]),
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CKernels"]),
        .target(name: "Checkpoint", dependencies: ["Tensor"]),
        .target(name: "ImageIO", dependencies: ["CPNG", "Tensor"]),
        .target(name: "Tokenizer", dependencies: ["CZlib"]),
        .target(name: "Models", dependencies: ["Tensor", "Checkpoint"]),
        .target(name: "Pipeline", dependencies: ["Tensor", "Checkpoint", "Models", "Samplers", "Tokenizer", "ImageIO"]),
        .target(name: "Samplers", dependencies: ["Tensor"], path: "samplers", exclude: ["README.md"]),
        .target(name: "TerminalGraphics"),
        // The studio's pure logic (Model/Message/update/view); StudioCurses is the only code that calls ncurses.
        .target(name: "Studio", dependencies: ["Pipeline", "Samplers", "TerminalGraphics"]),
        .target(name: "StudioCurses", dependencies: ["CNCurses", "Studio", "TerminalGraphics", "Pipeline"]),
        .executableTarget(
            name: "phosphor",
            dependencies: [
                "Tensor", "Checkpoint", "ImageIO", "Samplers", "CKernels", "Models", "Tokenizer", "Pipeline",
                "TerminalGraphics", "Studio", "StudioCurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "TestSupport", dependencies: ["Tensor", "Checkpoint"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "Checkpoint", "TestSupport"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "TestSupport"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "TestSupport"]),
        .testTarget(name: "SamplersTests", dependencies: ["Samplers", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"]),
        .testTarget(name: "StudioTests", dependencies: ["Studio", "TerminalGraphics", "Pipeline"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "ImageIO", "TestSupport"]),
        // Depends on the executable so `swift test` builds the binary it runs.
        .testTarget(name: "PhosphorCLITests", dependencies: ["TestSupport", "phosphor", "ImageIO"]),
        .testTarget(name: "SystemShimTests", dependencies: ["COpenBLAS", "CNCurses", "CPNG"]),
    ],
    swiftLanguageModes: [.v5]
)
