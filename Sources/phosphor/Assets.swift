import Foundation

/// Finds Phosphor's assets folder: $PHOSPHOR_ASSETS, else an `assets` folder next to the executable or in one
/// of its parent folders (a build tree: .build/release/phosphor), else ./assets.
enum Assets {
    static var folder: String {
        if let env = ProcessInfo.processInfo.environment["PHOSPHOR_ASSETS"], !env.isEmpty { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("assets")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("clip").path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return "assets"
    }

    static var clipMerges: String { folder + "/clip/bpe_simple_vocab_16e6.txt.gz" }
    /// The embedded default model (a Phosphor latent-diffusion folder), used when no --model is given.
    static var defaultModel: String { folder + "/default" }
}
