import ArgumentParser
import Checkpoint
import Foundation
import Models
import Tensor

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Inspect model checkpoints.", subcommands: [Inspect.self, MakeRandom.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a checkpoint (diffusers folder or single .safetensors file) contains; --run loads and runs it once.")

        @Argument(help: "A diffusers model folder or a single-file .safetensors checkpoint.") var path: String
        @Flag(name: .customLong("run"), help: "Load every component and run each once (--size pixels), reporting time and peak memory.")
        var runModel = false
        @Flag(help: "Print one JSON object.") var json = false
        @Option(help: "With --run: image size in pixels for the U-Net (batch 2, as with CFG) and VAE runs.") var size = 64
        @OptionGroup var threadOptions: ThreadOptions

        func run() throws {
            threadOptions.apply()
            var report: [String: Any] = ["path": path]
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw CheckpointError.cannotOpen(path: path, reason: "no such file or folder")
            }
            if !isFolder.boolValue {
                let checkpoint = try StableDiffusionCheckpoint(singleFile: path)
                let a = checkpoint.architecture
                report["family"] = a.family
                report["inpainting"] = a.isInpainting
                report["unet_channels"] = a.unetChannels
                report["context_dim"] = a.contextDim
                report["text_encoder"] = a.textEncoder?.rawValue ?? "none"
                report["text_layers"] = a.textLayers
                report["autoencoder"] = a.autoencoder?.rawValue ?? "none"
                report["tensors"] = checkpoint.file.entries.count
                let dtypes = Dictionary(grouping: checkpoint.file.entries.values, by: \.dtype.rawValue).mapValues(\.count)
                report["dtypes"] = dtypes
                report["file_bytes"] = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            }
            if runModel {
                let baseline = Memory.resetPeak()
                var start = Date()
                let model = try StableDiffusionLoader.load(path)
                report["load_seconds"] = Date().timeIntervalSince(start)
                report["load_peak_rss_bytes"] = Memory.peakResident() - baseline
                start = Date()
                let ids = [[49406, 320, 1125, 539, 320, 2368, 49407] + [Int](repeating: 49407, count: 70)]
                let context = try model.textEncoder.encode(ids.map { row in row.map { min($0, model.textEncoder.config.vocabSize - 1) } }, clipSkip: 1)
                report["text_encoder_seconds"] = Date().timeIntervalSince(start)
                start = Date()
                let side = max(1, size / (model.vae?.downscaleFactor ?? 8))
                let latents = Tensor.randomUniform([2, model.unet.inChannels, side, side], seed: 1)
                let out = model.unet.predict(latents, timesteps: [500, 500], context: Tensor.concat([context, context], dim: 0))
                report["unet_seconds"] = Date().timeIntervalSince(start)
                report["unet_output_finite"] = out.toArray().allSatisfy(\.isFinite)
                if let vae = model.vae {
                    start = Date()
                    let image = vae.decode(Tensor.randomUniform([1, vae.latentChannels, side, side], seed: 2))
                    report["vae_decode_seconds"] = Date().timeIntervalSince(start)
                    report["vae_output_shape"] = image.shape
                }
                report["peak_rss_bytes"] = Memory.peakResident()
                report["run_peak_rss_above_start_bytes"] = Memory.peakResident() - baseline
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for key in report.keys.sorted() { print("\(key): \(report[key]!)") }
            }
        }
    }

    struct MakeRandom: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "make-random",
            abstract: "Write a full-size checkpoint with random fp16 weights from an architecture table (assets/architectures).")

        @Argument(help: "Architecture table, e.g. assets/architectures/sd15_shapes.json.") var architecture: String
        @Argument(help: "Output .safetensors file.") var output: String
        @Option(help: "Random seed.") var seed: UInt64 = 1

        func run() throws {
            try RandomCheckpoint.writeFP16(architecture: architecture, to: output, seed: seed)
        }
    }
}
