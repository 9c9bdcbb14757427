import ArgumentParser
import Foundation
import Pipeline
import Tensor

/// `phosphor bench model`: a whole generation with a real model (the embedded default model unless --model), split
/// into stages: load, text encoding, U-Net steps (with CFG), decode; best of --repeats; peak RSS.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Time a model's stages and a full text-to-image run (default: the embedded default model, its own settings).")

    @Option(help: "A model folder or .safetensors file (default: the embedded default model).") var model: String?
    @Option(help: "Sampling steps (default: the model's, else 20).") var steps: Int?
    @Option(help: "Image size (default: the model's, else 512).") var size: Int?
    @Option(help: "Timed repetitions (the best is reported).") var repeats = 3
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let size, size % 8 != 0 || size < 8 { throw ValidationError("--size must be a positive multiple of 8, got \(size)") }
    }

    func run() throws {
        threadOptions.apply()
        let path = model ?? Assets.defaultModel
        let loadStart = DispatchTime.now()
        let pipeline = try Pipeline(model: path, mergesFile: Assets.clipMerges)
        let loadSeconds = seconds(since: loadStart)
        var request = GenerationRequest(prompt: "a red circle left of a blue square")
        request.model = path
        let d = pipeline.defaults
        request.width = size ?? d.width ?? 512
        request.height = size ?? d.height ?? 512
        request.steps = steps ?? d.steps ?? 20
        request.cfgScale = d.cfgScale ?? 7
        request.sampler = d.sampler ?? "euler"
        request.schedule = d.schedule ?? "normal"

        var best = (total: Double.infinity, text: 0.0, sampling: 0.0, decode: 0.0)
        for round in 0...repeats {   // round 0 warms up
            let t0 = DispatchTime.now()
            _ = try pipeline.conditioner.context(prompt: request.prompt, negative: "", clipSkip: 1)
            let text = seconds(since: t0)
            // Per-step time from the callbacks after step 1 and after the last step; the rest is setup + decode.
            var firstStep = DispatchTime.now(), lastStep = DispatchTime.now()
            let start = DispatchTime.now()
            _ = try pipeline.generate(request) { step, steps, _, _ in
                if step == 1 { firstStep = DispatchTime.now() }
                if step == steps { lastStep = DispatchTime.now() }
                return true
            }
            let total = seconds(since: start)
            let perStep = request.steps > 1
                ? Double(lastStep.uptimeNanoseconds - firstStep.uptimeNanoseconds) / 1e9 / Double(request.steps - 1) : total
            let sampling = perStep * Double(request.steps)
            if round > 0 && total < best.total { best = (total, text, sampling, total - sampling) }
        }
        let report: [String: Any] = [
            "model": path, "width": request.width, "height": request.height, "steps": request.steps,
            "cfg_scale": request.cfgScale, "sampler": request.sampler, "threads": Parallel.threadCount,
            "load_seconds": loadSeconds, "text_encode_seconds": best.text, "sampling_seconds": best.sampling,
            "seconds_per_step": best.sampling / Double(request.steps), "text_setup_decode_seconds": best.decode,
            "txt2img_seconds": best.total, "peak_rss_bytes": Memory.peakResident(),
        ]
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("phosphor bench model — \(path), \(request.width)×\(request.height), \(request.steps) steps \(request.sampler), CFG \(request.cfgScale), \(Parallel.threadCount) threads")
        print(String(format: "load                 %7.3f s", loadSeconds))
        print(String(format: "text encoder         %7.3f s (prompt and negative)", best.text))
        print(String(format: "sampling             %7.3f s (%.1f ms per step, U-Net with CFG)", best.sampling, 1000 * best.sampling / Double(request.steps)))
        print(String(format: "text, setup, decode  %7.3f s", best.decode))
        print(String(format: "txt2img total        %7.3f s (best of %d)", best.total, repeats))
        print(String(format: "peak RSS             %7.1f MB", Double(Memory.peakResident()) / 1e6))
    }

    func seconds(since t: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9 }
}
