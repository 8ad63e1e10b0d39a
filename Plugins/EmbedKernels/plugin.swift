import Foundation
import PackagePlugin

/// Embeds every `cl/*.cl` file of the package into the target as a Swift string constant,
/// so the `impasto` binary carries its kernels and runs from anywhere.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let clDir = context.package.directoryURL.appendingPathComponent("cl")
        let names = try FileManager.default.contentsOfDirectory(atPath: clDir.path)
            .filter { $0.hasSuffix(".cl") }
            .sorted()
        let inputs = names.map { clDir.appendingPathComponent($0) }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("KernelSources.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(names.count) OpenCL kernel files",
                executable: try context.tool(named: "EmbedKernelsTool").url,
                arguments: [output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
