import Foundation
import ImageIO
import Samplers

/// Everything that determines an image; shared by every front end and stored in each PNG so it can be re-run.
public struct GenerationRequest: Codable, Equatable, Sendable {
    public var prompt: String
    public var negativePrompt: String = ""
    public var width: Int = 512
    public var height: Int = 512
    public var steps: Int = 20
    public var cfgScale: Float = 7
    /// Sampler slug (`SamplerKind`: `euler`, `euler_a`, `dpmpp_2m`, `unipc`, …).
    public var sampler: String = "dpmpp_2m"
    /// `SigmaSchedule`: `normal`, `karras`, `exponential`, `simple` or `sgm_uniform`.
    public var schedule: String = "karras"
    public var seed: UInt64 = 0
    /// "torch" (torch's CPU generator, as diffusers on a CPU) or "philox" (A1111's "NV" source).
    public var rng: String = "torch"
    public static let rngNames = ["torch", "philox"]
    public var clipSkip: Int = 1
    public var eta: Float = 0
    /// The model path (diffusers folder or single file) as given.
    public var model: String = ""
    /// img2img: the starting image (a PNG path) and how much of the schedule to run over it (1 = all of it).
    public var initImage: String?
    public var strength: Float = 0.75
    /// img2img/inpaint: how a starting image of another size is fitted: "stretch" (A1111 "Just resize", diffusers'
    /// default) or "crop" (A1111 "Crop and resize"), both with Pillow's Lanczos filter.
    public var resizeMode: String = "stretch"
    /// Inpainting (with `initImage`): the mask PNG (white = repaint, any PNG colour type), whether to invert it, and
    /// A1111's mask blur (pixels; 0 = diffusers' behaviour: no overlay; > 0: the result is composited over the
    /// original through the blurred mask).
    public var mask: String?
    public var invertMask = false
    public var maskBlur = 0
    /// CLIP guidance (`CLIPGuidedDenoiser`): the loss scale (0 = off; diffusers' community pipeline uses 100) and the
    /// number of random cutouts (0 = the whole image resized to the CLIP tower's input).
    public var clipGuidanceScale: Float = 0
    public var clipCutouts = 0
    /// Decode in tiles (diffusers' `enable_tiling()`, KL autoencoders): large images in one tile's memory.
    public var vaeTiling = false
    /// Matrix products in bfloat16 (`BF16Compute`: AMX or AVX-512-BF16; fp32 where the CPU has neither): faster,
    /// pixels within bf16 rounding of the fp32 image. Stored images say whether it was used.
    public var bf16 = false
    /// Regional prompting (`PromptRegion`, regions.py): areas with prompts of their own, and `layout` "auto" for two
    /// more made from a relation phrase in the prompt ("A left of B" → A on the left, B on the right), or "off".
    public var regions: [PromptRegion] = []
    public var layout = "off"
    public static let layoutNames = ["off", "auto"]

    public init(prompt: String) { self.prompt = prompt }

    /// The regions a generation uses: the automatic layout's (with `layout` auto), then the request's own.
    public func resolvedRegions() -> [PromptRegion] {
        (layout == "auto" ? RegionLayout.auto(prompt: prompt, width: width, height: height) : []) + regions
    }

    enum CodingKeys: String, CodingKey {
        case prompt, negativePrompt = "negative_prompt", width, height, steps, cfgScale = "cfg_scale", sampler, schedule, seed, rng
        case clipSkip = "clip_skip", eta, model, initImage = "init_image", strength, resizeMode = "resize_mode"
        case mask, invertMask = "invert_mask", maskBlur = "mask_blur"
        case clipGuidanceScale = "clip_guidance_scale", clipCutouts = "clip_cutouts", vaeTiling = "vae_tiling"
        case bf16, regions, layout
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decode(String.self, forKey: .prompt)
        negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt) ?? negativePrompt
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? width
        height = try c.decodeIfPresent(Int.self, forKey: .height) ?? height
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        cfgScale = try c.decodeIfPresent(Float.self, forKey: .cfgScale) ?? cfgScale
        sampler = try c.decodeIfPresent(String.self, forKey: .sampler) ?? sampler
        schedule = try c.decodeIfPresent(String.self, forKey: .schedule) ?? schedule
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        rng = try c.decodeIfPresent(String.self, forKey: .rng) ?? rng
        clipSkip = try c.decodeIfPresent(Int.self, forKey: .clipSkip) ?? clipSkip
        eta = try c.decodeIfPresent(Float.self, forKey: .eta) ?? eta
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? model
        initImage = try c.decodeIfPresent(String.self, forKey: .initImage)
        strength = try c.decodeIfPresent(Float.self, forKey: .strength) ?? strength
        resizeMode = try c.decodeIfPresent(String.self, forKey: .resizeMode) ?? resizeMode
        mask = try c.decodeIfPresent(String.self, forKey: .mask)
        invertMask = try c.decodeIfPresent(Bool.self, forKey: .invertMask) ?? invertMask
        maskBlur = try c.decodeIfPresent(Int.self, forKey: .maskBlur) ?? maskBlur
        clipGuidanceScale = try c.decodeIfPresent(Float.self, forKey: .clipGuidanceScale) ?? clipGuidanceScale
        clipCutouts = try c.decodeIfPresent(Int.self, forKey: .clipCutouts) ?? clipCutouts
        vaeTiling = try c.decodeIfPresent(Bool.self, forKey: .vaeTiling) ?? vaeTiling
        bf16 = try c.decodeIfPresent(Bool.self, forKey: .bf16) ?? bf16
        regions = try c.decodeIfPresent([PromptRegion].self, forKey: .regions) ?? regions
        layout = try c.decodeIfPresent(String.self, forKey: .layout) ?? layout
    }

    /// Problems a user can fix, one line each.
    public func validate() throws {
        func fail(_ s: String) throws { throw PipelineError.invalidRequest(s) }
        if width % 8 != 0 || height % 8 != 0 || width < 8 || height < 8 {
            try fail("width and height must be positive multiples of 8, got \(width)×\(height)")
        }
        if steps < 1 || steps > 1000 { try fail("steps must be in 1...1000, got \(steps)") }
        if clipSkip < 1 { try fail("clip skip must be at least 1, got \(clipSkip)") }
        if !Self.rngNames.contains(rng) { try fail("unknown rng '\(rng)' (supported: \(Self.rngNames.joined(separator: ", ")))") }
        if RGBImage.ResizeMode(rawValue: resizeMode) == nil {
            try fail("unknown resize mode '\(resizeMode)' (supported: \(RGBImage.ResizeMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if initImage != nil && !(strength > 0 && strength <= 1) { try fail("strength must be in (0, 1], got \(strength)") }
        if mask != nil && initImage == nil { try fail("a mask needs the image it applies to") }
        if maskBlur < 0 || maskBlur > 64 { try fail("mask blur must be in 0...64 pixels, got \(maskBlur)") }
        if !(clipGuidanceScale >= 0 && clipGuidanceScale <= 100_000) { try fail("CLIP guidance scale must be in 0...100000, got \(clipGuidanceScale)") }
        if clipCutouts < 0 || clipCutouts > 64 { try fail("CLIP cutouts must be in 0...64, got \(clipCutouts)") }
        if !Self.layoutNames.contains(layout) { try fail("unknown layout '\(layout)' (supported: \(Self.layoutNames.joined(separator: ", ")))") }
        if regions.count > 16 { try fail("at most 16 regions, got \(regions.count)") }
        for (i, region) in regions.enumerated() { try region.validate(index: i + 1, imageWidth: width, imageHeight: height) }
    }

    /// A1111's `parameters` text: prompt, "Negative prompt: …", then "Steps: …, Sampler: …, …".
    public func a1111Parameters(samplerName: String, modelName: String, modelHash: String? = nil) -> String {
        var lines = [prompt]
        if !negativePrompt.isEmpty { lines.append("Negative prompt: \(negativePrompt)") }
        var fields = ["Steps: \(steps)", "Sampler: \(samplerName)", "Schedule type: \(SigmaSchedule(rawValue: schedule)?.displayName ?? schedule.capitalized)",
                      "CFG scale: \(cfgScale.formatted())", "Seed: \(seed)", "Size: \(width)x\(height)"]
        if let modelHash { fields.append("Model hash: \(modelHash)") }
        fields.append("Model: \(modelName)")
        if clipSkip > 1 { fields.append("Clip skip: \(clipSkip)") }
        if sampler == "ddim" && eta != 0 { fields.append("Eta: \(eta.formatted())") }
        if initImage != nil { fields.append("Denoising strength: \(strength.formatted())") }
        if mask != nil { fields.append("Mask blur: \(maskBlur)") }
        if clipGuidanceScale > 0 {
            fields.append("CLIP guidance scale: \(clipGuidanceScale.formatted())")
            if clipCutouts > 0 { fields.append("CLIP cutouts: \(clipCutouts)") }
        }
        if vaeTiling { fields.append("VAE tiling: True") }
        if bf16 { fields.append("Precision: bf16") }
        if layout != "off" { fields.append("Layout: \(layout)") }
        if !regions.isEmpty { fields.append("Regions: \"\(regions.map(\.argument).joined(separator: " | ").replacingOccurrences(of: "\"", with: "'"))\"") }
        // A1111's "RNG" values: CPU (torch's CPU generator) and NV (its Philox imitation of NVIDIA's randn).
        fields.append(rng == "philox" ? "RNG: NV" : "RNG: CPU")
        lines.append(fields.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

extension Float {
    /// 7.5 → "7.5", 7 → "7" (A1111 writes CFG scale this way).
    public func formatted() -> String { self == rounded() ? String(Int(self)) : String(self) }
}

public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidRequest(String)
    case cancelled

    public var description: String {
        switch self {
        case let .invalidRequest(s): s
        case .cancelled: "cancelled"
        }
    }
}
