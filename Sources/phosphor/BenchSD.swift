import ArgumentParser
import Checkpoint
import Foundation
import Models
import Pipeline
import Tensor

/// `phosphor bench sd`: Stable Diffusion 1.5's full architecture with random fp16 weights (made here, no download),
/// timed stage by stage: sgemm, text encoder, U-Net step (batch 2, as with CFG) and VAE decode per size, with their
/// GEMM FLOPs and effective GFLOP/s, optionally a whole txt2img run; peak RSS. benchmarks/compare_diffusers.sh runs
/// this and benchmarks/diffusers_cpu.py in one go and prints the ratios.
struct BenchSD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sd",
        abstract: "Stable Diffusion 1.5 (random weights) stage by stage: GFLOP/s against sgemm, seconds, peak RSS.")

    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Image sizes in pixels, comma-separated (default 256,512).") var sizes = "256,512"
    @Option(help: "Timed runs per stage after a warm-up (the best is reported).") var repeats = 1
    @Option(help: "A checkpoint to use instead of making a random one (kept).") var checkpoint: String?
    @Option(name: .customLong("e2e-steps"), help: "Also time a whole txt2img run of this many Euler steps at the first size (0 = skip).")
    var e2eSteps = 0
    @Option(help: "Stages to time, comma-separated: unet, vae (default both).") var stages = "unet,vae"
    @Flag(name: .customLong("vae-tiling"), help: "Decode in tiles (diffusers' enable_tiling; 512 px tiles for SD): the decoder's peak memory stays that of one tile.")
    var vaeTiling = false
    @Flag(help: "After the timed runs, one more U-Net step and decode per size with the time split by operation kind (conv 3×3 Winograd/im2col, 1×1, attention, norms, …).")
    var profile = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: ArgumentHelp("Time each U-Net step and decode also with this variant, alternating the two within this process (--repeats pairs): winograd-blas (Winograd's products on OpenBLAS), no-winograd (every 3×3 convolution through im2col), winograd-f4 (every Winograd convolution in F(4×4, 3×3) tiles), repeated-latents (the CFG batch's latents repeated before conv_in instead of where the context enters), scalar-transforms (Winograd's transforms gathering and storing value by value instead of through AVX-512 transposes).",
                               discussion: "On a shared machine whose speed swings by a third within minutes, runs of two binaries one after the other cannot see a 5–10 % change; alternating step by step can."))
    var alternate: BenchVariant?

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if parsedSizes.isEmpty || parsedSizes.contains(where: { $0 < 64 || $0 % 64 != 0 }) {
            throw ValidationError("--sizes must be multiples of 64, e.g. 256,512; got \(sizes)")
        }
    }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        threadOptions.apply()
        let say: (String) -> Void = { line in if !json { print(line) } }
        var report: [String: Any] = ["version": phosphorVersion, "blas": BLAS.configuration, "threads": Parallel.threadCount,
                                     "blas_threads": BLAS.threadCount, "architecture": "sd15", "weights": "random fp16",
                                     "compute": BF16Compute.enabled ? "bf16" : "fp32",
                                     "attention_kernel": AttentionKernel.preferred.rawValue,
                                     "half_weight_kernel": HalfWeightKernel.preferred.rawValue]
        // The fp32 sgemm peak, whatever the compute path: GFLOP/s figures stay comparable between both.
        let gemm = BF16Compute.with(false) { BenchOps.measureSGEMM(repeats: 3) }
        report["sgemm_gflops"] = gemm
        say("phosphor bench sd — SD 1.5 architecture, random fp16 weights, \(Parallel.threadCount) threads"
            + (BF16Compute.enabled ? ", bf16 compute (\(BF16Compute.kernel?.rawValue ?? ""))"
                                   : ", fp16 weights: \(HalfWeightKernel.preferred.rawValue), attention: \(AttentionKernel.preferred.rawValue)"))
        say(String(format: "sgemm 2048³           %8.1f GFLOP/s", gemm))

        var path = checkpoint ?? ""
        var made = false
        if checkpoint == nil {
            path = NSTemporaryDirectory() + "/phosphor-bench-sd15-\(getpid()).safetensors"
            let start = Date()
            try RandomCheckpoint.writeFP16(architecture: Assets.folder + "/architectures/sd15_shapes.json", to: path)
            made = true
            report["make_checkpoint_seconds"] = Date().timeIntervalSince(start)
        }
        defer { if made { try? FileManager.default.removeItem(atPath: path) } }

        var start = Date()
        let pipeline = try Pipeline(model: path, mergesFile: Assets.clipMerges)
        report["load_seconds"] = Date().timeIntervalSince(start)
        let unet = pipeline.unet
        guard let vae = pipeline.autoencoder else { throw ValidationError("\(path): no autoencoder") }

        // Text encoder: prompt and empty negative (two 77-token sequences), after a warm-up.
        _ = try pipeline.conditioner.context(prompt: "a photograph of an astronaut riding a horse", negative: "", clipSkip: 1)
        var context = Tensor.zeros([1])
        let textSeconds = try best {
            let (cond, uncond) = try pipeline.conditioner.context(prompt: "a photograph of an astronaut riding a horse", negative: "", clipSkip: 1)
            context = Tensor.concat([uncond!, cond], dim: 0)
        }
        report["text_encoder_seconds"] = textSeconds
        say(String(format: "text encoder          %8.3f s (prompt + negative)", textSeconds))

        // The first U-Net and VAE calls decode the fp16 weights to fp32 once: warm up at the smallest size.
        let smallest = parsedSizes.min()!
        let timed = Set(stages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let decode: (Tensor) -> Tensor = { vae.decode($0, tiled: self.vaeTiling) }
        report["vae_tiling"] = vaeTiling
        var unetRows: [[String: Any]] = [], vaeRows: [[String: Any]] = []
        // As in a sampling loop, the bf16 path packs the U-Net's weights once (in the warm-up) and reuses them.
        BF16Compute.cachingWeights {
            if timed.contains("unet") {
                _ = unet.predict(Tensor.randomUniform([1, 4, smallest / 8, smallest / 8], seed: 1), timesteps: [500], context: context)
            }
            for size in parsedSizes where timed.contains("unet") {
                // A CFG step as the pipeline makes it: one latent under the negative and the positive context (the
                // U-Net repeats it where the context enters; `--alternate repeated-latents` repeats it from the start).
                let latents = Tensor.randomUniform([1, 4, size / 8, size / 8], seed: 3, scale: 1)
                var flops = 0
                let (seconds, variant) = timedRuns { flops = FLOPCounter.count { _ = unet.predict(latents, timesteps: [500], context: context) } }
                let rate = Double(flops) / seconds / 1e9
                unetRows.append(["size": size, "seconds": seconds, "gflop": Double(flops) / 1e9, "effective_gflops": rate,
                                 "fraction_of_sgemm": rate / gemm])
                say(String(format: "U-Net step %4d px ×2  %8.3f s  %7.1f GFLOP  %6.1f GFLOP/s  %5.1f%% of sgemm",
                           size, seconds, Double(flops) / 1e9, rate, 100 * rate / gemm))
                if let variant { unetRows[unetRows.count - 1]["alternate"] = variant.report(say) }
                if profile { unetRows[unetRows.count - 1]["profile"] = profiled(say) { _ = unet.predict(latents, timesteps: [500], context: context) } }
            }
        }
        if timed.contains("vae") { _ = decode(Tensor.randomUniform([1, 4, smallest / 8, smallest / 8], seed: 2)) }
        for size in parsedSizes where timed.contains("vae") {
            let latents = Tensor.randomUniform([1, 4, size / 8, size / 8], seed: 4)
            var flops = 0
            let (seconds, variant) = timedRuns { flops = FLOPCounter.count { _ = decode(latents) } }
            let rate = Double(flops) / seconds / 1e9
            vaeRows.append(["size": size, "seconds": seconds, "gflop": Double(flops) / 1e9, "effective_gflops": rate])
            say(String(format: "VAE decode %4d px\(vaeTiling ? "(t)" : "   ")  %8.3f s  %7.1f GFLOP  %6.1f GFLOP/s  %5.1f%% of sgemm",
                       size, seconds, Double(flops) / 1e9, rate, 100 * rate / gemm))
            if let variant { vaeRows[vaeRows.count - 1]["alternate"] = variant.report(say) }
            if profile { vaeRows[vaeRows.count - 1]["profile"] = profiled(say) { _ = decode(latents) } }
        }
        report["unet_step"] = unetRows
        report["vae_decode"] = vaeRows
        if e2eSteps > 0 {
            var request = GenerationRequest(prompt: "a photograph of an astronaut riding a horse")
            (request.width, request.height, request.steps, request.cfgScale) = (parsedSizes[0], parsedSizes[0], e2eSteps, 7.5)
            (request.sampler, request.schedule, request.model) = ("euler", "normal", path)
            request.vaeTiling = vaeTiling
            start = Date()
            _ = try pipeline.generate(request)
            let seconds = Date().timeIntervalSince(start)
            report["txt2img"] = ["size": parsedSizes[0], "steps": e2eSteps, "seconds": seconds]
            say(String(format: "txt2img %4d px, %d Euler steps  %8.2f s", parsedSizes[0], e2eSteps, seconds))
        }
        report["peak_rss_bytes"] = Memory.peakResident()
        say(String(format: "peak RSS              %8.2f GiB", Double(Memory.peakResident()) / 1_073_741_824))
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self)) }
    }

    /// The best of `repeats` timed runs of `body`; with `--alternate`, each run is followed by one with the variant,
    /// and both series come back too.
    func timedRuns(_ body: () throws -> Void) rethrows -> (Double, AlternatedTimes?) {
        guard let alternate else { return (try best(body), nil) }
        var times = AlternatedTimes(variant: alternate)
        for _ in 0..<repeats {
            times.standard.append(try seconds(body))
            times.alternate.append(try alternate.apply { try seconds(body) })
        }
        return (times.standard.min()!, times)
    }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t = DispatchTime.now()
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
    }

    func best(_ body: () throws -> Void) rethrows -> Double {
        var result = Double.infinity
        for _ in 0..<repeats { result = min(result, try seconds(body)) }
        return result
    }
}

/// A variant `bench sd --alternate` times against the standard path.
enum BenchVariant: String, ExpressibleByArgument, CaseIterable {
    case winogradBLAS = "winograd-blas", noWinograd = "no-winograd", winogradF4 = "winograd-f4", repeatedLatents = "repeated-latents"
    case scalarTransforms = "scalar-transforms"

    func apply<T>(_ body: () throws -> T) rethrows -> T {
        switch self {
        case .winogradBLAS: try Tensor.withWinogradProducts(.blas, body)
        case .noWinograd: try Tensor.withWinograd(false, body)
        case .winogradF4: try Tensor.withWinogradTile(.f4, body)
        case .repeatedLatents: try UNet2DConditionModel.withSharedLatents(false, body)
        case .scalarTransforms: try Tensor.withWinogradVectorTransforms(false, body)  // process-wide: one stage at a time
        }
    }
}

/// Both series of an alternated stage, in the order they ran.
struct AlternatedTimes {
    let variant: BenchVariant
    var standard: [Double] = [], alternate: [Double] = []

    /// Prints the means, bests and the ratio of the means (variant ÷ standard: above 1 = the standard path faster);
    /// returns them for --json.
    func report(_ say: (String) -> Void) -> [String: Any] {
        let mean = { (x: [Double]) in x.reduce(0, +) / Double(max(x.count, 1)) }
        let ratio = mean(alternate) / mean(standard)
        say(String(format: "    alternated ×%d: standard mean %.3f s (best %.3f), %@ mean %.3f s (best %.3f): %@ ÷ standard %.3f",
                   standard.count, mean(standard), standard.min() ?? 0, variant.rawValue, mean(alternate),
                   alternate.min() ?? 0, variant.rawValue, ratio))
        return ["variant": variant.rawValue, "standard_seconds": standard, "variant_seconds": alternate,
                "ratio_of_means": ratio]
    }
}

/// Runs `body` once under OpProfile, prints the split and returns it as seconds per kind.
func profiled(_ say: (String) -> Void, _ body: () throws -> Void) rethrows -> [String: Double] {
    let start = DispatchTime.now()
    let kinds = try OpProfile.record(body)
    let total = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    var out: [String: Double] = ["total": total]
    let other = total - kinds.reduce(0) { $0 + $1.seconds }
    for k in kinds + [(kind: "other (not in a tensor op)", seconds: other, calls: 0)] {
        out[k.kind] = k.seconds
        let name = k.kind.padding(toLength: 28, withPad: " ", startingAt: 0)
        say("    " + name + String(format: " %8.3f s  %5.1f%%", k.seconds, 100 * k.seconds / total) + (k.calls > 0 ? "  (\(k.calls) calls)" : ""))
    }
    return out
}
