import ArgumentParser
import Foundation
import ImageIO
import Pipeline
import Samplers
import Tensor

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate an image from a prompt (seed-exact to diffusers on a CPU).")

    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .customLong("negative-prompt"), help: "What the image should not show.") var negativePrompt = ""
    @Option(help: "A diffusers model folder or a single-file .safetensors checkpoint.") var model: String?
    @Option(help: "Width in pixels (a multiple of 8).") var width = 512
    @Option(help: "Height in pixels (a multiple of 8).") var height = 512
    @Option(help: "Sampling steps.") var steps = 20
    @Option(name: .customLong("cfg-scale"), help: "Classifier-free guidance scale (1 = off).") var cfgScale: Float = 7
    @Option(help: "Sampler: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")).") var sampler = "dpmpp_2m"
    @Option(help: "Schedule: \(SigmaSchedule.allCases.map(\.rawValue).joined(separator: ", ")).") var schedule = "karras"
    @Option(help: "Seed; -1 picks a random one.") var seed: Int64 = -1
    @Option(name: .customLong("clip-skip"), help: "Use the text encoder's output this many layers from the end (A1111).")
    var clipSkip = 1
    @Option(help: "DDIM eta (0 = deterministic).") var eta: Float = 0
    @Option(name: [.short, .customLong("output")], help: "Output PNG file, or a folder for NNNNN-SEED.png (default: outputs).")
    var output = "outputs"
    @Flag(help: "Replace an existing output file.") var overwrite = false
    @Flag(help: "Print nothing on stderr.") var quiet = false
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard let _ = SamplerKind(rawValue: sampler) else {
            throw ValidationError("unknown sampler '\(sampler)'; valid: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard SigmaSchedule(rawValue: schedule) != nil else {
            throw ValidationError("unknown schedule '\(schedule)'; valid: \(SigmaSchedule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if width % 8 != 0 || height % 8 != 0 || width < 8 || height < 8 {
            throw ValidationError("--width and --height must be positive multiples of 8, got \(width)×\(height)")
        }
        if steps < 1 || steps > 1000 { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
        if seed < -1 { throw ValidationError("--seed must be -1 (random) or a non-negative number") }
    }

    func run() throws {
        threadOptions.apply()
        guard let model else {
            throw GenerateError.noModel
        }
        var request = GenerationRequest(prompt: prompt)
        request.negativePrompt = negativePrompt
        request.width = width
        request.height = height
        request.steps = steps
        request.cfgScale = cfgScale
        request.sampler = sampler
        request.schedule = schedule
        request.seed = seed < 0 ? UInt64.random(in: 0..<(1 << 32)) : UInt64(seed)
        request.clipSkip = clipSkip
        request.eta = eta
        request.model = model

        let path = try outputPath(seed: request.seed)
        let start = Date()
        let pipeline = try Pipeline(model: model, mergesFile: Assets.clipMerges)
        let loaded = Date()
        let image = try pipeline.generate(request) { step, total, _ in
            if !quiet {
                let rate = Double(step) / Date().timeIntervalSince(loaded)
                FileHandle.standardError.write(Data("\rstep \(step)/\(total)  \(String(format: "%.2f", rate)) it/s".utf8))
                if step == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
            return true
        }
        let rgb = try RGBImage.from(image)
        let modelName = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let samplerName = SamplerKind(rawValue: sampler)!.displayName
        let json = String(decoding: try JSONEncoder.sorted.encode(request), as: UTF8.self)
        try PNG.write(rgb, texts: [PNGTextChunk(keyword: "parameters", text: request.a1111Parameters(samplerName: samplerName, modelName: modelName)),
                                   PNGTextChunk(keyword: "phosphor", text: json, international: true)],
                      to: path, overwrite: overwrite)
        if !quiet {
            FileHandle.standardError.write(Data(String(format: "wrote %@ (seed %llu, %.1f s)\n", path, request.seed, Date().timeIntervalSince(start)).utf8))
        }
        print(path)
    }

    /// -o FILE.png as given; a folder gets the next NNNNN-SEED.png (A1111's naming).
    func outputPath(seed: UInt64) throws -> String {
        if output.lowercased().hasSuffix(".png") { return output }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw GenerateError.outputFolder(output, "\(error.localizedDescription)")
        }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        let next = (existing.compactMap { Int($0.prefix(5)) }.max() ?? -1) + 1
        return output + "/" + String(format: "%05d-%llu.png", next, seed)
    }
}

enum GenerateError: Error, CustomStringConvertible {
    case noModel
    case outputFolder(String, String)

    var description: String {
        switch self {
        case .noModel:
            "no model: the embedded default model does not exist yet; pass --model PATH (a diffusers folder or a .safetensors checkpoint)"
        case let .outputFolder(path, reason): "\(path): cannot create the output folder: \(reason)"
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension RGBImage {
    /// [1, 3, H, W] in [0, 1] → RGB8, rounding as diffusers' numpy_to_pil ((x · 255).round()).
    static func from(_ image: Tensor) throws -> RGBImage {
        let (h, w) = (image.shape[2], image.shape[3])
        let chw = image.contiguous()
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for c in 0..<3 {
            for p in 0..<(h * w) {
                pixels[p * 3 + c] = UInt8(min(max((chw.pointer[c * h * w + p] * 255).rounded(.toNearestOrEven), 0), 255))
            }
        }
        return try RGBImage(width: w, height: h, channels: 3, pixels: pixels)
    }
}
