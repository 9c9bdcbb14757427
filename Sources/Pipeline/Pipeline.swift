import Checkpoint
import Foundation
import ImageIO
import Models
import Samplers
import Tensor
import Tokenizer

/// diffusers scheduler_config.json values the schedule needs (SD defaults for keys it lacks).
public struct SchedulerConfig: Decodable, Sendable {
    public var betaStart = 0.00085
    public var betaEnd = 0.012
    public var betaSchedule: DiscreteSchedule.BetaSchedule = .scaledLinear
    public var trainSteps = 1000
    public var stepsOffset = 1
    /// The file's `timestep_spacing`; where it has none, the chosen sampler's diffusers class decides
    /// (`spacing(for:)`), as `from_config` does.
    public var configuredSpacing: TimestepSpacing?
    public var predictionType: PredictionType = .epsilon
    public var rescaleZeroSNR = false
    /// PNDM/DDIM: whether the last step lands on ᾱ = 1 (σ = 0) or on the first training ᾱ. `SchedulerConfig()` is
    /// the Stable Diffusion family's own config (steps_offset 1, set_alpha_to_one false, no spacing) for single files;
    /// a config file without the key gets the classes' default, true.
    public var setAlphaToOne = false

    enum CodingKeys: String, CodingKey {
        case betaStart = "beta_start", betaEnd = "beta_end", betaSchedule = "beta_schedule", trainSteps = "num_train_timesteps"
        case stepsOffset = "steps_offset", spacing = "timestep_spacing", predictionType = "prediction_type"
        case rescaleZeroSNR = "rescale_betas_zero_snr", setAlphaToOne = "set_alpha_to_one"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? betaStart
        betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? betaEnd
        betaSchedule = (try? c.decodeIfPresent(DiscreteSchedule.BetaSchedule.self, forKey: .betaSchedule)) ?? betaSchedule
        trainSteps = try c.decodeIfPresent(Int.self, forKey: .trainSteps) ?? trainSteps
        stepsOffset = try c.decodeIfPresent(Int.self, forKey: .stepsOffset) ?? 0
        configuredSpacing = try? c.decodeIfPresent(TimestepSpacing.self, forKey: .spacing)
        predictionType = (try? c.decodeIfPresent(PredictionType.self, forKey: .predictionType)) ?? .epsilon
        rescaleZeroSNR = try c.decodeIfPresent(Bool.self, forKey: .rescaleZeroSNR) ?? false
        setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne) ?? true
    }

    /// The spacing diffusers would use for this sampler's scheduler class given this config.
    public func spacing(for sampler: SamplerKind) -> TimestepSpacing { configuredSpacing ?? sampler.defaultSpacing }

    public var schedule: DiscreteSchedule {
        DiscreteSchedule(betaStart: betaStart, betaEnd: betaEnd, schedule: betaSchedule, trainSteps: trainSteps,
                         rescaleZeroTerminalSNR: rescaleZeroSNR)
    }
}

/// Progress of one generation: step (1-based) of steps, the latents after it and the denoised estimate (for
/// previews). Return false to cancel.
public typealias PipelineProgress = (_ step: Int, _ steps: Int, _ latents: Tensor, _ denoised: Tensor) -> Bool

/// Seconds spent in each stage of one `generate` call.
public struct StageTimings: Sendable, Equatable {
    /// Prompt and negative prompt → text-encoder context.
    public var conditioning = 0.0
    /// Starting latents: noise, and for img2img/inpainting loading, resizing and encoding the image and mask.
    public var preparation = 0.0
    /// The sampler's U-Net steps.
    public var sampling = 0.0
    /// Latents → image.
    public var decoding = 0.0
    public var total: Double { conditioning + preparation + sampling + decoding }

    public init() {}
}

/// Settings a model folder recommends (Phosphor's default model: model_index.json "phosphor"); nil = the request's own.
public struct ModelDefaults: Sendable, Equatable {
    public var width: Int?, height: Int?, steps: Int?
    public var cfgScale: Float?
    public var sampler: String?, schedule: String?
    /// Regional prompting's layout (`GenerationRequest.layout`).
    public var layout: String?

    public init(width: Int? = nil, height: Int? = nil, steps: Int? = nil, cfgScale: Float? = nil,
                sampler: String? = nil, schedule: String? = nil, layout: String? = nil) {
        (self.width, self.height, self.steps, self.cfgScale, self.sampler, self.schedule) = (width, height, steps, cfgScale, sampler, schedule)
        self.layout = layout
    }
}

/// Text → image with one loaded model: prompt conditioning, CFG over the U-Net, a sampler, the autoencoder.
public final class Pipeline {
    public let conditioner: PromptConditioning
    public let unet: UNet2DConditionModel
    public let autoencoder: LatentAutoencoder?
    public let scheduler: SchedulerConfig
    public let scalingFactor: Float
    public let defaults: ModelDefaults
    /// An inpainting U-Net's extra channels for a plain image of this size: an all-ones mask and the latents of an
    /// all-masked (zero) image. The same for every generation of the size (the encoder draws nothing), so made once:
    /// the default model's encoder pass is ~60 ms of a ~1.2 s image (`bench model`, studio, batch).
    private func blankImageChannels(_ vae: any LatentAutoencoder, width: Int, height: Int) -> Tensor {
        blankLock.lock()
        defer { blankLock.unlock() }
        if let made = blankChannels[[width, height]] { return made }
        let masked = vae.encode(Tensor.zeros([1, 3, height, width])).scaled(scalingFactor)
        let made = Tensor.concat([Tensor.zeros([1, 1, masked.shape[2], masked.shape[3]]).map { _ in 1 }, masked], dim: 1)
        blankChannels[[width, height]] = made
        return made
    }
    private var blankChannels: [[Int]: Tensor] = [:]
    private let blankLock = NSLock()

    /// Runs `body` with this thread's generations running a small model's U-Net calls at once (true; the default where
    /// there are two workers) or one after the other, each on every worker (false; PHOSPHOR_CONCURRENT_CALLS=0 for the
    /// whole process).
    public static func withConcurrentCalls<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        try GuidedPrediction.concurrentOverride.with(on, body)
    }

    /// The folder or file the model came from.
    public let source: String
    /// The CLIP model that CLIP guidance steers with (requests with a CLIP guidance scale need one): the default
    /// model's CLIP or a user's CLIPModel folder; either takes any RGB image through cutouts pooled to its input size.
    public var clip: CLIPScorer?

    public init(conditioner: PromptConditioning, unet: UNet2DConditionModel, autoencoder: LatentAutoencoder?,
                scheduler: SchedulerConfig, defaults: ModelDefaults = ModelDefaults(), source: String) {
        self.conditioner = conditioner
        self.unet = unet
        self.autoencoder = autoencoder
        self.scheduler = scheduler
        self.scalingFactor = autoencoder?.config.scalingFactor ?? 0.18215
        self.defaults = defaults
        self.source = source
    }

    /// Loads a diffusers folder or single-file Stable Diffusion checkpoint (`mergesFile`: the CLIP BPE vocabulary),
    /// or Phosphor's own latent-diffusion folder (model_index.json `PhosphorLatentDiffusionPipeline`).
    public convenience init(model path: String, mergesFile: String) throws {
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        if isFolder.boolValue, let index = try? Pipeline.modelIndex(path), index["_class_name"] as? String == DefaultModel.className {
            let model = try DefaultModel.load(path, index: index)
            self.init(conditioner: model.conditioner, unet: model.unet, autoencoder: model.vqvae,
                      scheduler: try Pipeline.schedulerConfig(folder: path), defaults: model.defaults, source: path)
            return
        }
        let components = try StableDiffusionLoader.load(path)
        var config = SchedulerConfig()
        if isFolder.boolValue {
            config = try Pipeline.schedulerConfig(folder: path)
        } else {
            let arch = try StableDiffusionCheckpoint(singleFile: path).architecture
            config.predictionType = arch.predictionType == .vPrediction ? .vPrediction : .epsilon
        }
        // SD 2.x (OpenCLIP, 1024 wide) pads with 0; SD 1.x with <|endoftext|>.
        let padding: CLIPTokenizer.Padding = components.textEncoder.hiddenSize == 1024 ? .zero : .endOfText
        let tokenizer = try CLIPTokenizer(mergesFile: mergesFile, padding: padding)
        self.init(conditioner: CLIPConditioner(encoder: PromptEncoder(tokenizer: tokenizer, textEncoder: components.textEncoder)),
                  unet: components.unet, autoencoder: components.vae, scheduler: config, source: components.source)
    }

    static func modelIndex(_ folder: String) throws -> [String: Any] {
        let path = folder + "/model_index.json"
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badConfig(path: path, detail: "missing or not JSON (is this a diffusers model folder?)")
        }
        return json
    }

    static func schedulerConfig(folder: String) throws -> SchedulerConfig {
        let path = folder + "/scheduler/scheduler_config.json"
        guard let data = FileManager.default.contents(atPath: path) else { return SchedulerConfig() }
        do { return try JSONDecoder().decode(SchedulerConfig.self, from: data) } catch {
            throw ModelError.badConfig(path: path, detail: "\(error)")
        }
    }

    /// Runs the request; returns the images [batch, 3, H, W] in [0, 1]: image i is the request's with seed + i,
    /// all sampled together (one U-Net call per step for the whole batch).
    /// Mapped weights from which stages drop their pages between one another (a 1 GB SD 1.x fp16 checkpoint and up;
    /// the default model, 40 MB, stays resident).
    static let pageDropThreshold = 1 << 30

    /// Whether a request runs its matrix products in bf16: asked for by the request or process-wide (`--bf16`,
    /// PHOSPHOR_BF16=1), and the CPU has a bf16 kernel. What stored images record as the request's `bf16`.
    public static func computesInBF16(_ request: GenerationRequest) -> Bool {
        BF16Compute.available && (request.bf16 || BF16Compute.enabled)
    }

    public func generate(_ request: GenerationRequest, batch: Int = 1, timings: ((StageTimings) -> Void)? = nil,
                         progress: PipelineProgress? = nil) throws -> Tensor {
        try BF16Compute.with(Self.computesInBF16(request)) {
            try run(request, batch: batch, timings: timings, progress: progress)
        }
    }

    private func run(_ request: GenerationRequest, batch: Int, timings: ((StageTimings) -> Void)?,
                     progress: PipelineProgress?) throws -> Tensor {
        try request.validate()
        var stages = StageTimings()
        var clock = DispatchTime.now()
        /// Seconds since the last lap.
        func lap() -> Double {
            let now = DispatchTime.now()
            defer { clock = now }
            return Double(now.uptimeNanoseconds - clock.uptimeNanoseconds) / 1e9
        }
        guard batch >= 1 && batch <= 64 else { throw PipelineError.invalidRequest("batch size must be in 1...64, got \(batch)") }
        guard let vae = autoencoder else { throw ModelError.unsupported(location: source, detail: "no autoencoder to decode with") }
        let sampler = try SamplerKind(slug: request.sampler)
        guard let sigmaSchedule = SigmaSchedule(rawValue: request.schedule) else { throw SamplerError.unknownSchedule(request.schedule) }
        let schedule = scheduler.schedule
        let spacing = scheduler.spacing(for: sampler)
        var levels = sampler.levels(schedule, steps: request.steps, sigmas: sigmaSchedule, spacing: spacing,
                                    stepsOffset: scheduler.stepsOffset, setAlphaToOne: scheduler.setAlphaToOne)

        let unet = self.unet
        let scale = request.cfgScale
        let factor = vae.downscaleFactor
        guard request.width % factor == 0, request.height % factor == 0 else {
            throw PipelineError.invalidRequest("width and height must be multiples of \(factor) for this model, got \(request.width)×\(request.height)")
        }
        let latentH = request.height / factor, latentW = request.width / factor
        let inpaintingUNet = unet.inChannels == 2 * vae.latentChannels + 1
        if !inpaintingUNet, unet.inChannels != vae.latentChannels {
            throw ModelError.unsupported(location: source, detail: "a U-Net of \(unet.inChannels) input channels for \(vae.latentChannels)-channel latents")
        }

        // Conditioning: [uncond, cond] as diffusers batches it; an empty negative prompt encodes "". A1111 prompt
        // syntax (emphasis, BREAK, chunks of 75 tokens) through PromptEncoder; both padded to the same chunk count.
        // Regional prompting: each region's prompt with the same negative (padded to the same chunk count).
        let guided = request.cfgScale > 1
        let regions = request.resolvedRegions()
        let encoded = try conditioner.contexts(prompts: [request.prompt] + regions.map(\.prompt),
                                               negative: guided ? request.negativePrompt : nil, clipSkip: request.clipSkip)
        // [uncond × batch, cond × batch]: the CFG halves stay contiguous for the chunk below.
        let repeated = { (t: Tensor) in t.repeatedBatch(batch) }
        let contexts = encoded.map { c, u in u.map { Tensor.concat([repeated($0), repeated(c)], dim: 0) } ?? repeated(c) }
        let context = contexts[0], regionContexts = Array(contexts.dropFirst())
        stages.conditioning = lap()
        // Big checkpoints: the text encoder's pages need not stay resident while the U-Net runs.
        MappedFile.dropResidentPages(minimumBytes: Self.pageDropThreshold)
        // An inpainting U-Net (latents + mask + masked-image latents) makes a plain image from an all-ones mask and
        // the latents of an all-masked (zero) image, as diffusers' inpainting pipeline computes them.
        var extra: Tensor?
        if inpaintingUNet, request.mask == nil {
            extra = repeated(blankImageChannels(vae, width: request.width, height: request.height))
        }
        let predictions = GuidedPrediction(unet: unet, scale: guided ? scale : nil, latentWidth: latentW, latentHeight: latentH)
        let regional = regions.isEmpty ? nil
            : RegionalPrediction(regions: regions, factor: factor, latentWidth: latentW, latentHeight: latentH, contexts: regionContexts)
        let model: (Tensor, Double) throws -> Tensor = { x, t in
            let input = extra.map { Tensor.concat([x, $0], dim: 1) } ?? x
            guard let regional else { return predictions([input], t, [context])[0] }
            let crops = regional.crops(of: input)
            let all = predictions([input] + crops, t, [context] + regional.areas.map(\.context))
            return regional.blend(whole: all[0], areas: Array(all.dropFirst()))
        }
        var denoiser: any Denoiser = DiscreteModelDenoiser(schedule: schedule, prediction: scheduler.predictionType, model: model)
        if request.clipGuidanceScale > 0 {
            guard let clip else {
                throw PipelineError.invalidRequest("CLIP guidance needs a CLIP model with an image tower (the default model's); none is loaded")
            }
            guard let decoder = vae as? any DifferentiableLatentDecoding else {
                throw ModelError.unsupported(location: source, detail: "CLIP guidance needs a differentiable decoder (KL or VQ)")
            }
            var guide = CLIPGuide(decoder: decoder, vision: clip.vision, text: try clip.textEmbedding(request.prompt),
                                  scale: request.clipGuidanceScale, scalingFactor: scalingFactor)
            (guide.mean, guide.std) = (clip.mean, clip.std)
            denoiser = CLIPGuidedDenoiser(denoiser, guide: guide, cutouts: request.clipCutouts, seed: request.seed, upsampling: factor)
        }

        // Image i of a batch is the image of seed + i alone (A1111's batch size): its own generator for its initial
        // noise, posterior samples and sampler noise, drawn in the order a single run draws them.
        var generators: [any NormalNoiseSource] = (0..<batch).map { i in
            let seed = request.seed &+ UInt64(i)
            return request.rng == "philox" ? PhiloxGenerator(seed: seed) : TorchGenerator(seed: seed)
        }
        let shape = [1, vae.latentChannels, latentH, latentW]
        var afterStep: AfterStep?
        var pixelMask: Tensor?, latentMask: Tensor?
        // img2img and inpainting start from an image and skip the first steps − ⌊steps·strength⌋ levels.
        let original = try request.initImage.map {
            try Pipeline.loadImage($0, width: request.width, height: request.height, mode: RGBImage.ResizeMode(rawValue: request.resizeMode) ?? .stretch)
        }
        if original != nil {
            let run = min(Int(Float(request.steps) * request.strength), request.steps)
            levels = Array(levels[(request.steps - run)...])
        }
        /// Latents noised to σ: x0 + σ·ε (diffusers' add_noise, in the σ form the samplers work in).
        func noised(_ latents: Tensor, _ noise: Tensor, _ sigma: Double) -> Tensor {
            let s = Float(sigma)
            return Tensor.zip(latents, noise) { $0 + $1 * s }
        }
        if let maskPath = request.mask {
            let mask = try Pipeline.loadMask(maskPath, width: request.width, height: request.height, invert: request.invertMask)
            pixelMask = mask
            // torch's nearest interpolation to the latent size: pixel (factor·i, factor·j).
            let small = Tensor.empty([1, 1, latentH, latentW])
            for i in 0..<latentH {
                for j in 0..<latentW { small.pointer[i * latentW + j] = mask.pointer[i * factor * request.width + j * factor] }
            }
            latentMask = small
        }
        /// One image's start: the initial latents, the inpainting U-Net's extra channels, and for latent blending the
        /// original latents with the noise that re-noises them.
        func start(_ generator: inout any NormalNoiseSource) -> (x0: Tensor, extra: Tensor?, blend: (latents: Tensor, noise: Tensor)?) {
            if let image = original, let mask = pixelMask, let latentMask {
                // diffusers' StableDiffusionInpaintPipeline, in its order of random draws: the image latents (a posterior
                // sample) when an ordinary U-Net blends them in or strength < 1, the initial noise, then the masked
                // image's latents (another sample) for an inpainting U-Net.
                let fullStrength = request.strength >= 1
                let imageLatents = !inpaintingUNet || !fullStrength
                    ? vae.encodeForSampling(image) { generator.randn($0) }.scaled(scalingFactor) : nil
                let noise = generator.randn(shape)
                let x0: Tensor
                if let imageLatents, !fullStrength {
                    x0 = noised(imageLatents, noise, levels[0].sigma)
                } else {
                    x0 = noise.scaled(sampler.initialNoiseSigma(levels, spacing: spacing))
                }
                if inpaintingUNet {
                    let maskedImage = image * mask.map { $0 < 0.5 ? 1 : 0 }
                    let maskedLatents = vae.encodeForSampling(maskedImage) { generator.randn($0) }.scaled(scalingFactor)
                    return (x0, Tensor.concat([latentMask, maskedLatents], dim: 1), nil)
                }
                return (x0, nil, imageLatents.map { ($0, noise) })
            } else if let image = original {
                // diffusers img2img: encode (a posterior sample from the generator), scale, and noise the latents to
                // the first remaining σ.
                let initLatents = vae.encodeForSampling(image) { generator.randn($0) }.scaled(scalingFactor)
                return (noised(initLatents, generator.randn(initLatents.shape), levels[0].sigma), nil, nil)
            }
            return (generator.randn(shape).scaled(sampler.initialNoiseSigma(levels, spacing: spacing)), nil, nil)
        }
        let starts = generators.indices.map { start(&generators[$0]) }
        let x0 = Tensor.concat(starts.map(\.x0), dim: 0)
        if starts[0].extra != nil { extra = Tensor.concat(starts.compactMap(\.extra), dim: 0) }
        if let first = starts[0].blend, let latentMask {
            // After step i: the known region = the original latents noised to the next level (none after the last).
            let imageLatents = batch == 1 ? first.latents : Tensor.concat(starts.compactMap { $0.blend?.latents }, dim: 0)
            let noise = batch == 1 ? first.noise : Tensor.concat(starts.compactMap { $0.blend?.noise }, dim: 0)
            let blendLevels = levels
            afterStep = { i, x in
                let proper = i + 1 < blendLevels.count - 1 ? noised(imageLatents, noise, blendLevels[i + 1].sigma) : imageLatents
                return Tensor.zip(proper, latentMask) { $0 * (1 - $1) } + x * latentMask
            }
        }
        /// Sampler noise: each image's from its own generator.
        func drawNoise(_ shape: [Int]) -> Tensor {
            let one = [1] + shape.dropFirst()
            return batch == 1 ? generators[0].randn(shape) : Tensor.concat(generators.indices.map { generators[$0].randn(one) }, dim: 0)
        }
        stages.preparation = lap()
        let latents: Tensor
        do {
            // bf16: the U-Net's weights packed once for all steps.
            latents = try BF16Compute.cachingWeights {
                try sampler.sample(denoiser, x0, levels: levels, noise: drawNoise, eta: request.eta,
                                   afterStep: afterStep) { i, n, x, denoised in
                    progress?(i + 1, n, x, denoised) ?? true
                }
            }
        } catch SamplerError.cancelled {
            throw PipelineError.cancelled
        }
        stages.sampling = lap()
        MappedFile.dropResidentPages(minimumBytes: Self.pageDropThreshold)   // nor the U-Net's while the VAE decodes
        LargeBufferCache.shared.releaseAll()   // nor the sampler's spare buffers
        // A schedule that stops short of σ = 0 (PNDM/DDIM with set_alpha_to_one false) leaves VP latents at the
        // last ᾱ, which diffusers decodes as they are: x·√ᾱ in the σ form.
        let finalSigma = Float(levels[levels.count - 1].sigma)
        let decodeScale = 1 / (self.scalingFactor * (finalSigma * finalSigma + 1).squareRoot())
        // One image at a time: a batch of 512 px decodes would multiply the decoder's peak memory.
        let scaled = latents.map { $0 * decodeScale }
        let decode: (Tensor) -> Tensor = { vae.decode($0, tiled: request.vaeTiling) }
        var image = batch == 1 ? decode(scaled)
            : Tensor.concat((0..<batch).map { decode(scaled.narrowed(0, start: $0, length: 1).contiguous()) }, dim: 0)
        if request.maskBlur > 0, let original, let pixelMask {
            // A1111's overlay: the original outside the (blurred) mask, the generation inside it.
            let soft = Pipeline.blurred(pixelMask, sigma: Float(request.maskBlur))
            image = Tensor.zip(original, soft) { $0 * (1 - $1) } + image * soft
        }
        let result = image.map { min(max($0 / 2 + 0.5, 0), 1) }
        LargeBufferCache.shared.releaseAll()   // a studio or batch run holds no spare buffers between images
        stages.decoding = lap()
        timings?(stages)
        return result
    }

    /// Separable Gaussian blur of a [1, 1, H, W] mask (radius 3σ, edges clamped).
    static func blurred(_ mask: Tensor, sigma: Float) -> Tensor {
        let h = mask.shape[2], w = mask.shape[3], r = Int((3 * sigma).rounded(.up))
        var kernel = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let src = mask.contiguous().toArray()
        var tmp = [Float](repeating: 0, count: h * w)
        let out = Tensor.empty([1, 1, h, w])
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for k in -r...r { acc += kernel[k + r] * src[y * w + min(max(x + k, 0), w - 1)] }
                tmp[y * w + x] = acc
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for k in -r...r { acc += kernel[k + r] * tmp[min(max(y + k, 0), h - 1) * w + x] }
                out.pointer[y * w + x] = acc
            }
        }
        return out
    }

    /// A quick look at a denoised estimate during sampling, [1, 3, h, w] in [0, 1]: the VQ decoder itself for small
    /// VQ models (the default model: a 128² decode costs a few percent of a step), the linear latent→RGB map at 1/8
    /// size for 4-channel KL latents (SD), nil otherwise.
    public func previewImage(_ denoised: Tensor) -> Tensor? {
        let denoised = denoised.shape[0] == 1 ? denoised : denoised.narrowed(0, start: 0, length: 1).contiguous()
        if let vq = autoencoder as? VQModel, denoised.shape[2] * denoised.shape[3] <= 64 * 64 {
            return vq.decode(denoised.map { $0 / self.scalingFactor }).map { min(max($0 / 2 + 0.5, 0), 1) }
        }
        if denoised.shape[1] == LatentPreview.sd15Factors.count { return LatentPreview.rgb(denoised.narrowed(0, start: 0, length: 1)) }
        return nil
    }

    /// A mask PNG as [1, 1, H, W] of 0/1 as diffusers' mask processor makes it: grayscale (PIL's ITU-R 601 luma),
    /// then ≥ 0.5 → 1 (repaint). A mask of another size with the same aspect ratio is resized (nearest); otherwise
    /// refused with both sizes named.
    static func loadMask(_ path: String, width: Int, height: Int, invert: Bool) throws -> Tensor {
        let png = try PNG.read(path: path)
        guard png.width * height == png.height * width else {
            throw PipelineError.invalidRequest("\(path): the mask is \(png.width)×\(png.height) but the image is \(width)×\(height) (another aspect ratio)")
        }
        let rgb = png.rgb8().pixels
        let out = Tensor.empty([1, 1, height, width])
        for y in 0..<height {
            let sy = y * png.height / height
            for x in 0..<width {
                let p = (sy * png.width + x * png.width / width) * 3
                let luma = (Int(rgb[p]) * 19595 + Int(rgb[p + 1]) * 38470 + Int(rgb[p + 2]) * 7471 + 0x8000) >> 16
                let on = Float(luma) / 255 >= 0.5
                out.pointer[y * width + x] = on != invert ? 1 : 0
            }
        }
        return out
    }

    /// A PNG as [1, 3, H, W] in [-1, 1] (diffusers' VaeImageProcessor normalisation); it must have the requested size.
    static func loadImage(_ path: String, width: Int, height: Int, mode: RGBImage.ResizeMode = .stretch) throws -> Tensor {
        let png = try PNG.read(path: path)
        // Another size is fitted with Pillow's Lanczos filter, as diffusers and A1111 do.
        let rgb = try png.rgb8().resized(width: width, height: height, mode: mode)
        let out = Tensor.empty([1, 3, height, width])
        for p in 0..<(width * height) {
            for c in 0..<3 { out.pointer[c * width * height + p] = Float(rgb.pixels[p * 3 + c]) / 255 * 2 - 1 }
        }
        return out
    }
}
