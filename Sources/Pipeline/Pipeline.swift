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
    public var spacing: TimestepSpacing = .leading
    public var predictionType: PredictionType = .epsilon
    public var rescaleZeroSNR = false

    enum CodingKeys: String, CodingKey {
        case betaStart = "beta_start", betaEnd = "beta_end", betaSchedule = "beta_schedule", trainSteps = "num_train_timesteps"
        case stepsOffset = "steps_offset", spacing = "timestep_spacing", predictionType = "prediction_type"
        case rescaleZeroSNR = "rescale_betas_zero_snr"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? betaStart
        betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? betaEnd
        betaSchedule = (try? c.decodeIfPresent(DiscreteSchedule.BetaSchedule.self, forKey: .betaSchedule)) ?? betaSchedule
        trainSteps = try c.decodeIfPresent(Int.self, forKey: .trainSteps) ?? trainSteps
        stepsOffset = try c.decodeIfPresent(Int.self, forKey: .stepsOffset) ?? 0
        // Leading is what SD checkpoints' PNDM/DDIM configs mean; a file may name another spacing.
        spacing = (try? c.decodeIfPresent(TimestepSpacing.self, forKey: .spacing)) ?? .leading
        predictionType = (try? c.decodeIfPresent(PredictionType.self, forKey: .predictionType)) ?? .epsilon
        rescaleZeroSNR = try c.decodeIfPresent(Bool.self, forKey: .rescaleZeroSNR) ?? false
    }

    public var schedule: DiscreteSchedule {
        DiscreteSchedule(betaStart: betaStart, betaEnd: betaEnd, schedule: betaSchedule, trainSteps: trainSteps,
                         rescaleZeroTerminalSNR: rescaleZeroSNR)
    }
}

/// Progress of one generation: step (1-based) of steps, the latents after it and the denoised estimate (for
/// previews). Return false to cancel.
public typealias PipelineProgress = (_ step: Int, _ steps: Int, _ latents: Tensor, _ denoised: Tensor) -> Bool

/// Text → image with one loaded model: tokenizer, text encoder, CFG over the U-Net, a sampler, the VAE.
public final class Pipeline {
    public let components: StableDiffusionComponents
    public let tokenizer: CLIPTokenizer
    public let scheduler: SchedulerConfig
    public let scalingFactor: Float

    /// Loads a diffusers folder or single-file checkpoint; `mergesFile` is the CLIP BPE vocabulary.
    public init(model path: String, mergesFile: String) throws {
        components = try StableDiffusionLoader.load(path)
        var config = SchedulerConfig()
        var isFolder: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        if isFolder.boolValue, let data = FileManager.default.contents(atPath: path + "/scheduler/scheduler_config.json") {
            do { config = try JSONDecoder().decode(SchedulerConfig.self, from: data) } catch {
                throw ModelError.badConfig(path: path + "/scheduler/scheduler_config.json", detail: "\(error)")
            }
        } else if !isFolder.boolValue {
            let arch = try StableDiffusionCheckpoint(singleFile: path).architecture
            config.predictionType = arch.predictionType == .vPrediction ? .vPrediction : .epsilon
        }
        scheduler = config
        // SD 2.x (OpenCLIP, 1024 wide) pads with 0; SD 1.x with <|endoftext|>.
        let padding: CLIPTokenizer.Padding = components.textEncoder.hiddenSize == 1024 ? .zero : .endOfText
        tokenizer = try CLIPTokenizer(mergesFile: mergesFile, padding: padding)
        scalingFactor = components.vae?.config.scalingFactor ?? 0.18215
    }

    /// Runs the request; returns the image [1, 3, H, W] in [0, 1].
    public func generate(_ request: GenerationRequest, progress: PipelineProgress? = nil) throws -> Tensor {
        try request.validate()
        guard let vae = components.vae else { throw ModelError.unsupported(location: components.source, detail: "no VAE to decode with") }
        let sampler = try SamplerKind(slug: request.sampler)
        guard let sigmaSchedule = SigmaSchedule(rawValue: request.schedule) else { throw SamplerError.unknownSchedule(request.schedule) }
        let schedule = scheduler.schedule
        var levels = sampler.levels(schedule, steps: request.steps, sigmas: sigmaSchedule, spacing: scheduler.spacing,
                                    stepsOffset: scheduler.stepsOffset)

        // Conditioning: [uncond, cond] as diffusers batches it; an empty negative prompt encodes "". A1111 prompt
        // syntax (emphasis, BREAK, chunks of 75 tokens) through PromptEncoder; both padded to the same chunk count.
        let guided = request.cfgScale > 1
        let prompts = PromptEncoder(tokenizer: tokenizer, textEncoder: components.textEncoder)
        let condChunks = prompts.chunks(request.prompt)
        let uncondChunks = guided ? prompts.chunks(request.negativePrompt) : []
        let chunkCount = max(condChunks.count, uncondChunks.count)
        let cond = try prompts.encode(condChunks, clipSkip: request.clipSkip, minChunks: chunkCount)
        let context = guided
            ? Tensor.concat([try prompts.encode(uncondChunks, clipSkip: request.clipSkip, minChunks: chunkCount), cond], dim: 0)
            : cond
        let unet = components.unet
        let scale = request.cfgScale
        let model: (Tensor, Double) throws -> Tensor = { x, t in
            if !guided { return unet.predict(x, timesteps: [Float(t)], context: context) }
            let out = unet.predict(Tensor.concat([x, x], dim: 0), timesteps: [Float(t), Float(t)], context: context)
            let parts = out.chunk(2, dim: 0)
            // noise_pred_uncond + guidance_scale · (noise_pred_text − noise_pred_uncond)
            return Tensor.zip(parts[0], parts[1]) { u, c in u + scale * (c - u) }
        }
        let denoiser = DiscreteModelDenoiser(schedule: schedule, prediction: scheduler.predictionType, model: model)

        var generator = TorchGenerator(seed: request.seed)
        let factor = vae.downscaleFactor
        guard request.width % factor == 0, request.height % factor == 0 else {
            throw PipelineError.invalidRequest("width and height must be multiples of \(factor) for this model, got \(request.width)×\(request.height)")
        }
        let shape = [1, vae.latentChannels, request.height / factor, request.width / factor]
        let x0: Tensor
        if let initPath = request.initImage {
            // diffusers img2img: encode (a posterior sample from the generator), scale, skip the first
            // steps − ⌊steps·strength⌋ levels, and noise the latents to the first remaining σ.
            let image = try Pipeline.loadImage(initPath, width: request.width, height: request.height)
            let initLatents = vae.encodeSample(image) { generator.randn($0) }.scaled(scalingFactor)
            let run = min(Int(Float(request.steps) * request.strength), request.steps)
            levels = Array(levels[(request.steps - run)...])
            let noise = generator.randn(initLatents.shape)
            let sigma = Float(levels[0].sigma)
            x0 = Tensor.zip(initLatents, noise) { $0 + $1 * sigma }
        } else {
            x0 = generator.randn(shape).scaled(sampler.initialNoiseSigma(levels, spacing: scheduler.spacing))
        }
        let latents: Tensor
        do {
            latents = try sampler.sample(denoiser, x0, levels: levels, noise: { generator.randn($0) }, eta: request.eta) { i, n, x, denoised in
                progress?(i + 1, n, x, denoised) ?? true
            }
        } catch SamplerError.cancelled {
            throw PipelineError.cancelled
        }
        let image = vae.decode(latents.map { $0 / self.scalingFactor })
        return image.map { min(max($0 / 2 + 0.5, 0), 1) }
    }

    /// A PNG as [1, 3, H, W] in [-1, 1] (diffusers' VaeImageProcessor normalisation); it must have the requested size.
    static func loadImage(_ path: String, width: Int, height: Int) throws -> Tensor {
        let png = try PNG.read(path: path)
        guard png.width == width, png.height == height else {
            throw PipelineError.invalidRequest("\(path): the image is \(png.width)×\(png.height) but the request is \(width)×\(height)")
        }
        let f = png.rgbFloat()
        let out = Tensor.empty([1, 3, height, width])
        for p in 0..<(width * height) {
            for c in 0..<3 { out.pointer[c * width * height + p] = f.samples[p * 3 + c] * 2 - 1 }
        }
        return out
    }
}
