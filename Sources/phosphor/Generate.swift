import ArgumentParser
import Checkpoint
import Foundation
import ImageIO
import Pipeline
import Samplers
import Tensor

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate an image from a prompt (seed-exact to diffusers on a CPU).")

    @OptionGroup var options: GenerationOptions

    func validate() throws {
        if options.prompt == nil && options.from == nil { throw ValidationError("a prompt is needed (or --from IMAGE.png)") }
    }

    func run() throws { try options.run() }
}

struct Inpaint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repaint the white part of a mask (--image IMAGE.png --mask MASK.png); inpainting models use their mask input, others blend latents every step.")

    @OptionGroup var options: GenerationOptions

    func validate() throws {
        if options.from == nil && (options.initImage == nil || options.mask == nil) {
            throw ValidationError("inpaint needs --image IMAGE.png and --mask MASK.png")
        }
    }

    func run() throws { try options.run() }
}

struct Img2Img: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "img2img", abstract: "Generate from a starting image (--init) and a prompt; --strength sets how much changes.")

    @OptionGroup var options: GenerationOptions

    func validate() throws {
        if options.initImage == nil && options.from == nil { throw ValidationError("img2img needs --init IMAGE.png") }
    }

    func run() throws { try options.run() }
}

/// Options shared by generate and img2img (A1111's parameter names).
struct GenerationOptions: ParsableArguments {
    @Argument(help: "The prompt (optional with --from).") var prompt: String?
    @Option(name: .customLong("negative-prompt"), help: "What the image should not show.") var negativePrompt: String?
    @Option(help: "A diffusers model folder or a single-file .safetensors checkpoint.") var model: String?
    @Option(help: "Width in pixels (a multiple of 8; default 512).") var width: Int?
    @Option(help: "Height in pixels (a multiple of 8; default 512).") var height: Int?
    @Option(help: "Sampling steps (default 20).") var steps: Int?
    @Option(name: .customLong("cfg-scale"), help: "Classifier-free guidance scale, 1 = off (default 7).") var cfgScale: Float?
    @Option(help: "Sampler: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")) (default dpmpp_2m).") var sampler: String?
    @Option(help: "Schedule: \(SigmaSchedule.allCases.map(\.rawValue).joined(separator: ", ")) (default karras).") var schedule: String?
    @Option(help: "Seed; -1 picks a random one (default).") var seed: Int64?
    @Option(help: "Random numbers: torch (torch's CPU generator, as diffusers; default) or philox (A1111's \"NV\" source: the seeds of A1111 on NVIDIA GPUs).")
    var rng: String?
    @Option(name: .customLong("clip-skip"), help: "Use the text encoder's output this many layers from the end (A1111).")
    var clipSkip: Int?
    @Option(help: "DDIM eta (0 = deterministic).") var eta: Float?
    @Option(name: .customLong("batch-count"), help: "Images to make one after another; the seed goes up by one each.")
    var batchCount = 1
    @Option(name: .customLong("batch-size"), help: "Images per run, sampled together (one U-Net call per step); image i has seed + i, as A1111.")
    var batchSize = 1
    @Option(name: .customLong("best-of"), help: "Sample N seeds (seed, seed+1, …) and keep the image with the highest CLIP score (default model's CLIP).")
    var bestOf = 1
    @Flag(name: .customLong("keep-all"), help: "With --best-of: write every candidate, each with its CLIP score in the metadata.")
    var keepAll = false
    @Option(name: .customLong("clip-guidance-scale"), help: "CLIP guidance: steer every step toward the prompt's CLIP embedding with this loss scale (0 = off, default; 100 as diffusers' CLIP-guided pipeline). Costs a decoder and CLIP backward pass per step.")
    var clipGuidanceScale: Float?
    @Option(name: .customLong("clip-cutouts"), help: "CLIP guidance: random square cutouts per step (0 = the whole image resized to the CLIP input; default).")
    var clipCutouts: Int?
    @Option(name: .customLong("clip-model"), help: "The CLIP that guides, scores and ranks (--best-of): a Phosphor model folder with an image_encoder or a transformers CLIPModel folder (default: the model's own, else the embedded default model's).")
    var clipModel: String?
    @Flag(name: .customLong("vae-tiling"), help: "Decode in overlapping tiles (diffusers' enable_tiling; KL autoencoders): a 1024 px image decodes in a 512 px image's memory, with slightly different pixels.")
    var vaeTiling = false
    @Option(name: .customLong("from"), help: "Re-run the request stored in a PNG made by phosphor; other flags override it.")
    var from: String?
    @Option(name: [.customLong("init"), .customLong("image")], help: "img2img/inpaint: the starting image (PNG, the output size).")
    var initImage: String?
    @Option(help: "img2img/inpaint: how much of the schedule runs over the starting image, in (0, 1] (default 0.75; inpaint 1).")
    var strength: Float?
    @Option(name: .customLong("resize-mode"), help: "img2img/inpaint: fit a starting image of another size by stretch (A1111 \"Just resize\", default) or crop (\"Crop and resize\"); Lanczos as Pillow.")
    var resizeMode: String?
    @Option(help: "inpaint: the mask PNG, white = repaint (any PNG mode; another size of the same aspect ratio is resized).")
    var mask: String?
    @Flag(name: .customLong("invert-mask"), help: "inpaint: repaint the black part of the mask instead.") var invertMask = false
    @Option(name: .customLong("mask-blur"), help: "inpaint: blur (pixels) of the mask for pasting the result over the original (A1111); 0 = none (default).")
    var maskBlur: Int?
    @Option(help: "Regional prompting: auto gives the two parts of a relation prompt (\"A left of B\", \"A above B\") their own sides of the image, each denoised with its own prompt; off (default, except for a model that recommends auto).")
    var layout: String?
    @Option(name: .customLong("region"), help: ArgumentHelp("An area with a prompt of its own: X,Y,WIDTH,HEIGHT[,STRENGTH]:PROMPT in pixels (multiples of 8; strength default 1.5, the whole image counting 1). Repeatable.", valueName: "area"))
    var regions: [String] = []
    @Option(name: [.short, .customLong("output")], help: "Output PNG file, or a folder for NNNNN-SEED.png (default: outputs).")
    var output = "outputs"
    @Flag(help: "Replace an existing output file.") var overwrite = false
    @Flag(help: "Print nothing on stderr.") var quiet = false
    @Option(help: "Progress on stderr: bar (default on a terminal) or json (one object per step, for scripts).")
    var progress: ProgressStyle = .bar
    @OptionGroup var threadOptions: ThreadOptions

    enum ProgressStyle: String, ExpressibleByArgument { case bar, json }

    func validate() throws {
        if let sampler, (try? SamplerKind(slug: sampler)) == nil {
            throw ValidationError("unknown sampler '\(sampler)'; valid: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let schedule, SigmaSchedule(rawValue: schedule) == nil {
            throw ValidationError("unknown schedule '\(schedule)'; valid: \(SigmaSchedule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let resizeMode, RGBImage.ResizeMode(rawValue: resizeMode) == nil {
            throw ValidationError("unknown resize mode '\(resizeMode)'; valid: \(RGBImage.ResizeMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let rng, !GenerationRequest.rngNames.contains(rng) {
            throw ValidationError("unknown rng '\(rng)'; valid: \(GenerationRequest.rngNames.joined(separator: ", "))")
        }
        for (name, value) in [("--width", width), ("--height", height)] {
            if let value, value % 8 != 0 || value < 8 {
                throw ValidationError("\(name) must be a positive multiple of 8, got \(value)")
            }
        }
        if let steps, steps < 1 || steps > 1000 { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
        if let seed, seed < -1 { throw ValidationError("--seed must be -1 (random) or a non-negative number") }
        if batchCount < 1 { throw ValidationError("--batch-count must be at least 1") }
        if batchSize < 1 || batchSize > 64 { throw ValidationError("--batch-size must be in 1...64, got \(batchSize)") }
        if batchSize > 1 && output.lowercased().hasSuffix(".png") {
            throw ValidationError("--batch-size \(batchSize) needs an output folder, not the file \(output)")
        }
        if bestOf < 1 || bestOf > 64 { throw ValidationError("--best-of must be in 1...64, got \(bestOf)") }
        if bestOf > 1 && batchCount > 1 { throw ValidationError("--best-of and --batch-count do not combine") }
        if bestOf > 1 && keepAll && output.lowercased().hasSuffix(".png") { throw ValidationError("--keep-all needs an output folder, not the file \(output)") }
        if let strength, !(strength > 0 && strength <= 1) { throw ValidationError("--strength must be in (0, 1], got \(strength)") }
        if mask != nil && initImage == nil && from == nil { throw ValidationError("--mask needs --image IMAGE.png") }
        if let maskBlur, maskBlur < 0 || maskBlur > 64 { throw ValidationError("--mask-blur must be in 0...64, got \(maskBlur)") }
        if let clipGuidanceScale, !(clipGuidanceScale >= 0 && clipGuidanceScale <= 100_000) {
            throw ValidationError("--clip-guidance-scale must be in 0...100000, got \(clipGuidanceScale)")
        }
        if let clipCutouts, clipCutouts < 0 || clipCutouts > 64 { throw ValidationError("--clip-cutouts must be in 0...64, got \(clipCutouts)") }
        if batchCount > 1 && output.lowercased().hasSuffix(".png") {
            throw ValidationError("--batch-count \(batchCount) needs an output folder, not the file \(output)")
        }
        if let layout, !GenerationRequest.layoutNames.contains(layout) {
            throw ValidationError("unknown layout '\(layout)'; valid: \(GenerationRequest.layoutNames.joined(separator: ", "))")
        }
        for region in regions {
            do { _ = try PromptRegion(argument: region) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The request: the one stored in --from's PNG (if given), with every flag given here on top.
    func request() throws -> GenerationRequest {
        var r = GenerationRequest(prompt: prompt ?? "")
        if let from {
            let texts = try PNG.readText(path: from)
            guard let json = texts.first(where: { $0.keyword == "phosphor" })?.text else {
                throw GenerateError.noMetadata(from)
            }
            do { r = try JSONDecoder().decode(GenerationRequest.self, from: Data(json.utf8)) } catch {
                throw GenerateError.noMetadata(from)
            }
            if let prompt { r.prompt = prompt }
        }
        if let negativePrompt { r.negativePrompt = negativePrompt }
        if let width { r.width = width }
        if let height { r.height = height }
        if let steps { r.steps = steps }
        if let cfgScale { r.cfgScale = cfgScale }
        if let sampler { r.sampler = (try? SamplerKind(slug: sampler).rawValue) ?? sampler }
        if let rng { r.rng = rng }
        if let schedule { r.schedule = schedule }
        if let seed { r.seed = seed < 0 ? UInt64.random(in: 0..<(1 << 32)) : UInt64(seed) } else if from == nil {
            r.seed = UInt64.random(in: 0..<(1 << 32))
        }
        if let clipSkip { r.clipSkip = clipSkip }
        if let eta { r.eta = eta }
        if let model { r.model = model }
        if let initImage {
            r.initImage = initImage
            // Without --width/--height an img2img request takes the starting image's size, rounded down to a
            // multiple of 8 (as diffusers' image processor does).
            let info = try PNG.readInfo(path: initImage)
            if width == nil { r.width = max(8, info.width / 8 * 8) }
            if height == nil { r.height = max(8, info.height / 8 * 8) }
        }
        if let strength { r.strength = strength }
        if let resizeMode { r.resizeMode = resizeMode }
        if let mask {
            r.mask = mask
            if strength == nil && from == nil { r.strength = 1 }   // diffusers' inpainting default
        }
        if invertMask { r.invertMask = true }
        if let maskBlur { r.maskBlur = maskBlur }
        if let clipGuidanceScale { r.clipGuidanceScale = clipGuidanceScale }
        if let clipCutouts { r.clipCutouts = clipCutouts }
        if vaeTiling { r.vaeTiling = true }
        if let layout { r.layout = layout }
        if !regions.isEmpty { r.regions = try regions.map { try PromptRegion(argument: $0) } }
        return r
    }

    func run() throws {
        threadOptions.apply()
        Interrupt.install()
        var base = try request()
        if base.bf16 && !BF16Compute.available {
            FileHandle.standardError.write(Data("phosphor: the request asks for bf16; this CPU has no bf16 kernel, computing in fp32\n".utf8))
        }
        // An output folder that cannot be made fails before any compute is spent.
        _ = try outputFolder()
        let (pipeline, modelName) = try load(&base)
        if bestOf > 1 { return try bestOfRun(base, pipeline: pipeline, modelName: modelName) }
        // A1111's numbering: run n, image i of the batch has seed + n·batchSize + i.
        for n in 0..<batchCount {
            var request = base
            request.seed = base.seed + UInt64(n * batchSize)
            try produce(request, pipeline: pipeline, modelName: modelName, batch: batchSize, run: n + 1, of: batchCount)
        }
    }

    /// --best-of N: N seeds, each image scored by CLIP against the prompt (on its 8-bit pixels, as a PNG holds them);
    /// the best is written (all of them with --keep-all), the score in its metadata.
    func bestOfRun(_ base: GenerationRequest, pipeline: Pipeline, modelName: String) throws {
        let scorer: CLIPScorer
        do { scorer = try guidanceCLIP(model: base.model, override: clipModel) } catch {
            throw ValidationError("--best-of needs a model with a CLIP image encoder (the default model has one): \(error)")
        }
        let text = try scorer.textEmbedding(base.prompt)
        var candidates: [(request: GenerationRequest, image: Tensor, score: Float)] = []
        for first in stride(from: 0, to: bestOf, by: batchSize) {
            var request = base
            request.seed = base.seed + UInt64(first)
            let count = min(batchSize, bestOf - first)
            let images = try generateImages(request, pipeline: pipeline, batch: count, run: first / batchSize + 1,
                                            of: (bestOf + batchSize - 1) / batchSize, since: Date())
            for i in 0..<count {
                request.seed = base.seed + UInt64(first + i)
                let image = images.narrowed(0, start: i, length: 1).contiguous()
                let score = try scorer.score(try RGBImage.from(image), text: text)
                if !quiet { FileHandle.standardError.write(Data(String(format: "seed %llu: CLIP score %.2f\n", request.seed, score).utf8)) }
                candidates.append((request, image, score))
            }
        }
        let best = candidates.indices.max { candidates[$0].score < candidates[$1].score }!
        for (i, c) in candidates.enumerated() where i == best || keepAll {
            let path = try outputPath(seed: c.request.seed)
            _ = try writeGeneratedImage(c.image, request: c.request, modelName: modelName, path: path, overwrite: overwrite, clipScore: c.score)
            print(path)
        }
    }

    /// Loads the request's model (the embedded default model when none is named) and applies its recommended settings
    /// to every option not given; returns the pipeline and the model's name for the metadata.
    func load(_ base: inout GenerationRequest) throws -> (Pipeline, String) {
        if base.model.isEmpty {
            guard FileManager.default.fileExists(atPath: Assets.defaultModel + "/model_index.json") else { throw GenerateError.noModel(Assets.defaultModel) }
            base.model = Assets.defaultModel
            if !quiet {
                FileHandle.standardError.write(Data("using the embedded default model (\(Assets.defaultModel): 128×128 shapes and colours); --model PATH for Stable Diffusion\n".utf8))
            }
        }
        let pipeline = try Pipeline.cached(model: base.model, mergesFile: Assets.clipMerges)
        if from == nil { applyDefaults(pipeline.defaults, to: &base) }
        let modelName = base.model == Assets.defaultModel ? "phosphor-default"
            : URL(fileURLWithPath: base.model).deletingPathExtension().lastPathComponent
        return (pipeline, modelName)
    }

    /// Runs the request for a batch (seeds seed … seed + batch − 1) with progress on stderr (unless --quiet); Ctrl-C
    /// stops it within a step. Returns [batch, 3, H, W].
    func generateImages(_ request: GenerationRequest, pipeline: Pipeline, batch: Int, run n: Int, of count: Int, since start: Date) throws -> Tensor {
        do { try attachGuidanceCLIP(pipeline, for: request, override: clipModel) } catch {
            throw ValidationError("--clip-guidance-scale needs a CLIP model with an image encoder (--clip-model FOLDER): \(error)")
        }
        do {
            return try pipeline.generate(request, batch: batch, timings: { t in
                guard !quiet, progress == .json else { return }
                let line = String(format: "{\"timings\":{\"conditioning_s\":%.3f,\"preparation_s\":%.3f,\"sampling_s\":%.3f,\"decoding_s\":%.3f,\"total_s\":%.3f}}\n",
                                  t.conditioning, t.preparation, t.sampling, t.decoding, t.total)
                FileHandle.standardError.write(Data(line.utf8))
            }) { step, total, _, _ in
                if !quiet { report(step: step, of: total, since: start, image: n, of: count) }
                return !Interrupt.isRequested
            }
        } catch PipelineError.cancelled {
            throw Interrupted()
        }
    }

    /// Generates a batch of images (seed + i) and writes each (atomically, with A1111 and phosphor metadata, its own
    /// seed in them) to `path`, or to the output folder's next names.
    func produce(_ request: GenerationRequest, pipeline: Pipeline, modelName: String, path: String? = nil, batch: Int = 1,
                 run n: Int, of count: Int) throws {
        let start = Date()
        let images = try generateImages(request, pipeline: pipeline, batch: batch, run: n, of: count, since: start)
        for i in 0..<batch {
            var one = request
            one.seed = request.seed + UInt64(i)
            let target = try path ?? outputPath(seed: one.seed)
            _ = try writeGeneratedImage(images.narrowed(0, start: i, length: 1).contiguous(), request: one, modelName: modelName,
                                        path: target, overwrite: overwrite, clipModel: clipModel)
            if !quiet {
                FileHandle.standardError.write(Data(String(format: "wrote %@ (seed %llu, %.1f s)\n", target, one.seed, Date().timeIntervalSince(start)).utf8))
            }
            print(target)
        }
    }

    /// The model's recommended settings for every option not given on the command line, nor by `given` (a request
    /// field name, e.g. a batch entry's own "width").
    func applyDefaults(_ d: ModelDefaults, to r: inout GenerationRequest, given: (String) -> Bool = { _ in false }) {
        if width == nil, initImage == nil, !given("width"), let v = d.width { r.width = v }
        if height == nil, initImage == nil, !given("height"), let v = d.height { r.height = v }
        if steps == nil, !given("steps"), let v = d.steps { r.steps = v }
        if cfgScale == nil, !given("cfg_scale"), let v = d.cfgScale { r.cfgScale = v }
        if sampler == nil, !given("sampler"), let v = d.sampler { r.sampler = v }
        if schedule == nil, !given("schedule"), let v = d.schedule { r.schedule = v }
        if layout == nil, !given("layout"), let v = d.layout { r.layout = v }
    }

    func report(step: Int, of total: Int, since start: Date, image: Int, of images: Int) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(step) / max(elapsed, 1e-9)
        let eta = Double(total - step) / max(rate, 1e-9)
        switch progress {
        case .json:
            let line = String(format: "{\"image\":%d,\"images\":%d,\"step\":%d,\"steps\":%d,\"it_per_s\":%.3f,\"eta_s\":%.1f}\n",
                              image, images, step, total, rate, eta)
            FileHandle.standardError.write(Data(line.utf8))
        case .bar:
            let width = 24, filled = width * step / max(total, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r%@ %d/%d  %.2f it/s  ETA %.0f s", bar, step, total, rate, eta).utf8))
            if step == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    /// -o FILE.png as given; a folder gets the next NNNNN-SEED.png (A1111's naming).
    /// The folder images go to (-o FOLDER, or -o FILE.png's folder), created if needed.
    func outputFolder() throws -> String {
        let folder = output.lowercased().hasSuffix(".png") ? (output as NSString).deletingLastPathComponent : output
        guard !folder.isEmpty else { return "." }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw GenerateError.outputFolder(folder, "\(error.localizedDescription)")
        }
        return folder
    }

    func outputPath(seed: UInt64) throws -> String {
        _ = try outputFolder()
        if output.lowercased().hasSuffix(".png") { return output }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        let next = (existing.compactMap { Int($0.prefix(5)) }.max() ?? -1) + 1
        return output + "/" + String(format: "%05d-%llu.png", next, seed)
    }
}

/// The CLIP folder a request names: `override` (--clip-model), else the model folder when it has an image encoder.
func clipFolder(model: String, override: String?) -> String? {
    override ?? (FileManager.default.fileExists(atPath: model + "/image_encoder/config.json") ? model : nil)
}

/// The CLIP that guides and scores: `clipFolder`, else the embedded default model's (one per folder for the process).
func guidanceCLIP(model: String, override: String?) throws -> CLIPScorer {
    try CLIPScorer.cached(folder: clipFolder(model: model, override: override) ?? Assets.defaultModel, mergesFile: Assets.clipMerges)
}

/// Gives the pipeline the CLIP a CLIP-guided request steers with, once (generate, batch and the studio).
func attachGuidanceCLIP(_ pipeline: Pipeline, for request: GenerationRequest, override: String?) throws {
    if request.clipGuidanceScale > 0 && pipeline.clip == nil { pipeline.clip = try guidanceCLIP(model: request.model, override: override) }
}

/// Writes a generated image [1, 3, H, W] in [0, 1] as a PNG (atomically) with A1111's `parameters` text and the
/// request as JSON (`phosphor` chunk), and its CLIP score against the prompt (`clip_score`, also in the parameters)
/// when the model has its own CLIP (the default model does) or one was given; returns its 8-bit pixels.
func writeGeneratedImage(_ image: Tensor, request: GenerationRequest, modelName: String, path: String, overwrite: Bool,
                         clipScore given: Float? = nil, clipModel: String? = nil) throws -> RGBImage {
    let rgb = try RGBImage.from(image)
    var clipScore = given
    if clipScore == nil, let folder = clipFolder(model: request.model, override: clipModel),
       let scorer = try? CLIPScorer.cached(folder: folder, mergesFile: Assets.clipMerges),
       let text = try? scorer.textEmbedding(request.prompt) {
        clipScore = try? scorer.score(rgb, text: text)
    }
    var request = request
    request.bf16 = Pipeline.computesInBF16(request)   // what actually ran
    let samplerName = SamplerKind(rawValue: request.sampler)?.displayName ?? request.sampler
    let json = String(decoding: try JSONEncoder.sorted.encode(request), as: UTF8.self)
    var parameters = request.a1111Parameters(samplerName: samplerName, modelName: modelName, modelHash: modelHash(request.model))
    var texts = [PNGTextChunk(keyword: "phosphor", text: json, international: true)]
    if let clipScore {
        parameters += String(format: ", CLIP score: %.2f", clipScore)
        texts.append(PNGTextChunk(keyword: "clip_score", text: String(format: "%.4f", clipScore)))
    }
    try PNG.write(rgb, texts: [PNGTextChunk(keyword: "parameters", text: parameters)] + texts, to: path, overwrite: overwrite)
    return rgb
}

/// A1111's "Model hash" of a single-file checkpoint (nil for model folders), from the hash cache after the first time.
func modelHash(_ path: String) -> String? {
    var isFolder: ObjCBool = false
    guard !path.isEmpty, FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
    return try? ModelHash.short(ofFile: path)
}

/// Appends data as one line (a newline added) to a file, creating it and its folder if needed.
func appendLine(_ data: Data, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
    defer { try? handle.close() }
    // A line cut short by a kill mid-write is ended first, so it cannot swallow this one.
    let end = try handle.seekToEnd()
    var line = data + [0x0A]
    if end > 0, let reader = FileHandle(forReadingAtPath: path) {
        try reader.seek(toOffset: end - 1)
        if reader.readData(ofLength: 1).first != 0x0A { line = [0x0A] + line }
        try? reader.close()
    }
    try handle.write(contentsOf: line)
}

enum GenerateError: Error, CustomStringConvertible {
    case noModel(String)
    case outputFolder(String, String)
    case noMetadata(String)

    var description: String {
        switch self {
        case let .noModel(path):
            "no model: the embedded default model is missing (\(path)/model_index.json); pass --model PATH (a diffusers folder or a .safetensors checkpoint) or set PHOSPHOR_ASSETS"
        case let .outputFolder(path, reason): "\(path): cannot create the output folder: \(reason)"
        case let .noMetadata(path): "\(path): no phosphor request in this PNG's metadata (only images made by phosphor can be re-run with --from)"
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
