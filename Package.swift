// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Impasto",
    products: [
        .executable(name: "impasto", targets: ["impasto"]),
        .library(name: "Impasto", targets: ["Impasto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation`: the DocC catalog in Sources/Impasto/Impasto.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The OpenCL C API, from the system's headers and ICD loader (ocl-icd-opencl-dev).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        // PNG and JPEG through libpng and libjpeg (libpng-dev, libjpeg-dev), errors as messages.
        .target(name: "CImageIO", path: "Sources/CImageIO",
                linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]),
        // Turns cl/*.cl into Swift string constants at build time, so the binary needs no source tree.
        .executableTarget(name: "EmbedKernelsTool", path: "Sources/EmbedKernelsTool"),
        .plugin(name: "EmbedKernels", capability: .buildTool(), dependencies: ["EmbedKernelsTool"]),
        .target(
            name: "Impasto",
            dependencies: ["COpenCL", "CImageIO"],
            path: "Sources/Impasto",
            plugins: ["EmbedKernels"]
        ),
        .executableTarget(
            name: "impasto",
            dependencies: [
                "Impasto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/impasto"
        ),
        // The README's "Using Impasto from Swift" examples (a picture, a batch, a video), built
        // and run by RepositoryTests.
        .executableTarget(name: "stylize-example", dependencies: ["Impasto"], path: "Sources/stylize-example"),
        .executableTarget(name: "batch-example", dependencies: ["Impasto"], path: "Sources/batch-example"),
        .executableTarget(name: "video-example", dependencies: ["Impasto"], path: "Sources/video-example"),
        // Test-only writers of the image variants the reader must handle.
        .target(name: "CImageFixtures", path: "Tests/CImageFixtures",
                linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]),
        // Fixtures/: numbers from the reference scripts in tools/, read by the tests.
        .testTarget(name: "ImpastoTests", dependencies: ["Impasto", "CImageFixtures"], path: "Tests/ImpastoTests",
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
