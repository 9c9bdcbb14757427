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
    @Option(help: "The prompt (default: a relation prompt, which the default model's automatic layout splits in two areas).")
    var prompt = "a red circle left of a blue square"
    @Option(help: "Regional prompting's layout: auto or off (default: the model's).") var layout: String?
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Flag(help: "After the timed runs, one more generation with the time split by operation kind (its U-Net calls one after the other).") var profile = false
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let size, size % 8 != 0 || size < 8 { throw ValidationError("--size must be a positive multiple of 8, got \(size)") }
        if let layout, !GenerationRequest.layoutNames.contains(layout) {
            throw ValidationError("unknown layout '\(layout)'; valid: \(GenerationRequest.layoutNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        threadOptions.apply()
        let path = model ?? Assets.defaultModel
        let loadStart = DispatchTime.now()
        let pipeline = try Pipeline(model: path, mergesFile: Assets.clipMerges)
        let loadSeconds = seconds(since: loadStart)
        var request = GenerationRequest(prompt: prompt)
        request.model = path
        let d = pipeline.defaults
        request.width = size ?? d.width ?? 512
        request.height = size ?? d.height ?? 512
        request.steps = steps ?? d.steps ?? 20
        request.cfgScale = d.cfgScale ?? 7
        request.sampler = d.sampler ?? "euler"
        request.schedule = d.schedule ?? "normal"
        request.layout = layout ?? d.layout ?? "off"
        let areas = request.resolvedRegions().count

        // The pipeline's own stage timings; the best (lowest total) of --repeats rounds after a warm-up.
        var best = StageTimings()
        for round in 0...repeats {   // round 0 warms up
            var stages = StageTimings()
            _ = try pipeline.generate(request, timings: { stages = $0 })
            if round == 1 || (round > 1 && stages.total < best.total) { best = stages }
        }
        let say: (String) -> Void = { line in if !json { print(line) } }
        var split: [String: Double]?
        if profile {
            // The profile times the ops of the thread that records it: U-Net calls side by side would leave out those
            // of the other worker, so this run takes them one after the other.
            say("one more generation, by operation kind (U-Net calls one after the other):")
            split = try profiled(say) { _ = try Pipeline.withConcurrentCalls(false) { try pipeline.generate(request) } }
        }
        var report: [String: Any] = [
            "model": path, "width": request.width, "height": request.height, "steps": request.steps,
            "cfg_scale": request.cfgScale, "sampler": request.sampler, "threads": Parallel.threadCount,
            "prompt": prompt, "layout": request.layout, "areas": areas,
            "load_seconds": loadSeconds, "text_encode_seconds": best.conditioning, "setup_seconds": best.preparation,
            "sampling_seconds": best.sampling, "seconds_per_step": best.sampling / Double(request.steps),
            "decode_seconds": best.decoding, "txt2img_seconds": best.total, "peak_rss_bytes": Memory.peakResident(),
        ]
        if let split { report["profile"] = split }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("phosphor bench model — \(path), \(request.width)×\(request.height), \(request.steps) steps \(request.sampler), CFG \(request.cfgScale), \(Parallel.threadCount) threads")
        print("prompt \"\(prompt)\", layout \(request.layout)" + (areas > 0 ? " (\(areas) areas with prompts of their own)" : ""))
        print(String(format: "load                 %7.3f s", loadSeconds))
        print(String(format: "text encoder         %7.3f s (prompt and negative)", best.conditioning))
        print(String(format: "initial latents      %7.3f s", best.preparation))
        print(String(format: "sampling             %7.3f s (%.1f ms per step, U-Net with CFG\(areas > 0 ? " on the image and each area" : ""))", best.sampling, 1000 * best.sampling / Double(request.steps)))
        print(String(format: "decode               %7.3f s", best.decoding))
        print(String(format: "txt2img total        %7.3f s (best of %d)", best.total, repeats))
        print(String(format: "peak RSS             %7.1f MB", Double(Memory.peakResident()) / 1e6))
    }

    func seconds(since t: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9 }
}
