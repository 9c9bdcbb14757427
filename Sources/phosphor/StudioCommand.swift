import ArgumentParser
import Foundation
import Pipeline
import Studio
import StudioCurses
import TerminalGraphics
import Tensor

/// `phosphor` with no arguments: the studio.
struct StudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio", abstract: "The terminal studio (the default when phosphor runs with no arguments).")

    @Option(help: "A diffusers model folder or a single-file .safetensors checkpoint (default: the embedded model).") var model: String?
    @Option(name: [.short, .customLong("output")], help: "Folder for the images (default: outputs).") var output = "outputs"
    @Option(help: "Image cells: truecolor or 256 (default: what the terminal reports).") var graphics: String?
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let graphics, ColorDepth(rawValue: graphics) == nil { throw ValidationError("--graphics must be truecolor or 256, got \(graphics)") }
    }

    func run() throws {
        threadOptions.apply()
        guard isatty(0) != 0 && isatty(1) != 0 else {
            throw ValidationError("the studio needs a terminal; for scripts use phosphor generate/batch (see phosphor --help)")
        }
        var keymap = try Keymap(parsing: try String(contentsOfFile: Assets.folder + "/keymap", encoding: .utf8), source: Assets.folder + "/keymap")
        let userKeymap = ProcessInfo.processInfo.environment["PHOSPHOR_KEYMAP"]
            ?? (NSHomeDirectory() + "/.config/phosphor/keymap")
        if let text = try? String(contentsOfFile: userKeymap, encoding: .utf8) { try keymap.merge(text, source: userKeymap) }

        var options = try GenerationOptions.parse(["--quiet", "-o", output] + (model.map { ["--model", $0] } ?? []))
        options.overwrite = false
        var base = try options.request()
        base.seed = 0
        let (pipeline, modelName) = try options.load(&base)
        let initial = StudioModel(request: base, keymap: keymap, modelName: modelName,
                                  seed: UInt64(Date().timeIntervalSince1970 * 1000))
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let make: ImageMaker = { request, progress in
            var request = request
            request.model = base.model
            let image: Tensor
            do {
                image = try pipeline.generate(request) { step, steps, _, denoised in
                    progress(step, steps, pipeline.previewImage(denoised).map(canvas))
                }
            } catch PipelineError.cancelled {
                throw GenerationCancelled()
            }
            let path = try options.outputPath(seed: request.seed)
            let rgb = try writeGeneratedImage(image, request: request, modelName: modelName, path: path, overwrite: false)
            return (path, Canvas(width: rgb.width, height: rgb.height, rgb: rgb.pixels))
        }
        /// [1, 3, h, w] in [0, 1] → 8-bit canvas.
        func canvas(_ t: Tensor) -> Canvas {
            let (h, w) = (t.shape[2], t.shape[3])
            let x = t.contiguous()
            var rgb = [UInt8](repeating: 0, count: h * w * 3)
            for p in 0..<(h * w) { for c in 0..<3 { rgb[p * 3 + c] = UInt8((x.pointer[c * h * w + p] * 255).rounded()) } }
            return Canvas(width: w, height: h, rgb: rgb)
        }
        StudioApp().run(initial, depth: graphics.flatMap(ColorDepth.init(rawValue:)), make: make) { prompt in
            pipeline.conditioner.tokenCount(prompt)
        }
    }
}
