import Checkpoint
import Foundation
import Tensor

/// Predicts the model output (noise, v or sample — the checkpoint's prediction type) for latents at a timestep.
public protocol NoisePredicting {
    /// x [B, C, H, W] latents (any H, W), timesteps [B], context [R·B, tokens, contextDim] → [R·B, outChannels, H, W]:
    /// with R > 1 (classifier-free guidance: the same latents under a negative and a positive context) the result is
    /// the prediction for the latents and timesteps repeated R times in a row (`Tensor.repeatedBatch`).
    func predict(_ x: Tensor, timesteps: [Float], context: Tensor) -> Tensor
    var inChannels: Int { get }
}

/// diffusers UNet2DConditionModel for Stable Diffusion 1.x/2.x (CrossAttn/plain down and up blocks,
/// UNetMidBlock2DCrossAttn). The module tree mirrors the diffusers keys; channel counts, block kinds,
/// layers per block, linear vs conv projections and the input channels (4, or 9 for inpainting) are read
/// from the weights' shapes; heads and norm groups come from the config.
public final class UNet2DConditionModel: NoisePredicting {
    public let config: UNetConfig
    let convIn, convOut: Conv2d
    let timeLinear1, timeLinear2: Linear
    let normOut: GroupNorm
    let down: [DownBlock]
    let mid: MidBlock
    let up: [UpBlock]
    let timeChannels: Int

    public var inChannels: Int { convIn.weight.shape[1] }
    /// conv_in's output channels (block_out_channels[0]).
    public var baseChannels: Int { convIn.weight.shape[0] }

    public init(config: UNetConfig, weights: WeightStore) throws {
        self.config = config
        let w = WeightReader(weights)
        let cinShape = try w["conv_in"].packed("weight").shape
        let base = cinShape[0]
        convIn = try Conv2d(w["conv_in"], inChannels: cinShape[1], outChannels: base, kernel: 3, padding: 1)
        let outShape = try w["conv_out"].packed("weight").shape
        convOut = try Conv2d(w["conv_out"], inChannels: base, outChannels: outShape[0], kernel: 3, padding: 1)
        timeChannels = base
        let tembDim = try w["time_embedding"]["linear_1"].packed("weight").shape[0]
        timeLinear1 = try Linear(w["time_embedding"]["linear_1"], inFeatures: base, outFeatures: tembDim)
        timeLinear2 = try Linear(w["time_embedding"]["linear_2"], inFeatures: tembDim, outFeatures: tembDim)
        let g = config.normNumGroups, eps = config.normEps, ctx = config.crossAttentionDim
        normOut = try GroupNorm(w["conv_norm_out"], groups: g, channels: base, eps: eps)

        var downBlocks: [DownBlock] = []
        var i = 0
        while w["down_blocks"]["\(i)"]["resnets"]["0"]["conv1"].has("weight") {
            let heads = config.heads[min(i, config.heads.count - 1)]
            downBlocks.append(try DownBlock(w["down_blocks"]["\(i)"], heads: heads, groups: g, eps: eps, contextDim: ctx, tembDim: tembDim))
            i += 1
        }
        guard !downBlocks.isEmpty else { throw ModelError.missingWeight(location: weights.location, key: "down_blocks.0.resnets.0.conv1.weight") }
        down = downBlocks
        mid = try MidBlock(w["mid_block"], heads: config.heads.last ?? 8, groups: g, eps: eps, contextDim: ctx, tembDim: tembDim)
        let reversedHeads = Array(config.heads.reversed())
        up = try (0..<downBlocks.count).map { i in
            try UpBlock(w["up_blocks"]["\(i)"], heads: reversedHeads[min(i, reversedHeads.count - 1)], groups: g, eps: eps,
                        contextDim: ctx, tembDim: tembDim)
        }
    }

    /// diffusers get_timestep_embedding (max_period 10000, flip_sin_to_cos, downscale_freq_shift), in float32.
    func timestepEmbedding(_ timesteps: [Float]) -> Tensor {
        let half = timeChannels / 2
        let out = Tensor.empty([timesteps.count, timeChannels])
        let logPeriod = Float(Foundation.log(10000.0))
        for (b, t) in timesteps.enumerated() {
            for j in 0..<half {
                let exponent = -logPeriod * Float(j) / (Float(half) - config.freqShift)
                let arg = t * Foundation.exp(exponent)
                let (first, second) = config.flipSinToCos ? (Foundation.cos(arg), Foundation.sin(arg)) : (Foundation.sin(arg), Foundation.cos(arg))
                out[b, j] = first
                out[b, half + j] = second
            }
        }
        return out
    }

    /// The last few calls' contexts with their cross-attention projections (`CrossAttentionContext`), reused while calls
    /// pass the same values — a sampler's steps, which with regional prompting alternate between the whole image's
    /// context and each area's. Most recently used last.
    private var recentContexts: [CrossAttentionContext] = []
    private let contextLock = NSLock()
    static let contextsKept = 4

    func crossAttentionContext(_ context: Tensor) -> CrossAttentionContext {
        contextLock.lock()
        defer { contextLock.unlock() }
        if let i = recentContexts.firstIndex(where: { $0.matches(context) }) {
            recentContexts.append(recentContexts.remove(at: i))
            return recentContexts[recentContexts.count - 1]
        }
        let made = CrossAttentionContext(context)
        recentContexts.append(made)
        if recentContexts.count > Self.contextsKept { recentContexts.removeFirst() }
        return made
    }

    private static let sharedLatents = ThreadOverride<Bool>()

    /// Runs `body` with this thread's U-Net calls computing a context's repeated latents (R > 1 in `predict`) once up to
    /// the first cross-attention (true, the default) or repeated from the start (false: the direct computation, for
    /// tests and `bench sd --alternate repeated-latents`).
    public static func withSharedLatents<T>(_ shared: Bool, _ body: () throws -> T) rethrows -> T {
        try sharedLatents.with(shared, body)
    }

    /// With R > 1 the layers before the first cross-attention (conv_in, the time embedding, SD's first resnet and
    /// self-attention) see the same latents in every repeat, so they run once on B rows and the hidden state is
    /// repeated where the context first enters (`UNetCall.widened`): exact, and ~2.6 % of a 512 px SD 1.5 CFG step.
    public func predict(_ x: Tensor, timesteps: [Float], context contextTensor: Tensor) -> Tensor {
        precondition(x.shape[1] == inChannels, "the U-Net takes \(inChannels) input channels, got \(x.shape[1])")
        precondition(timesteps.count == x.shape[0], "one timestep per batch row")
        let rows = contextTensor.shape[0]
        precondition(rows % x.shape[0] == 0, "a context of \(rows) rows for \(x.shape[0]) latents (a multiple is needed)")
        if rows > x.shape[0], Self.sharedLatents.value == false {
            let repeats = rows / x.shape[0]
            return predict(x.repeatedBatch(repeats), timesteps: Array([[Float]](repeating: timesteps, count: repeats).joined()),
                           context: contextTensor)
        }
        let context = UNetCall(context: crossAttentionContext(contextTensor))
        let temb = timeLinear2(timeLinear1(timestepEmbedding(timesteps)).silu())
        var h = convIn(x)
        var skips = [h]
        for block in down {
            h = block(h, temb: temb, context: context, skips: &skips)
        }
        h = mid(h, temb: temb, context: context)
        for block in up {
            h = block(h, temb: temb, context: context, skips: &skips)
        }
        return context.widened(convOut(normOut.silu(h)))
    }
}

/// The resnets.N (each optionally followed by attentions.N) of a down or up block, as many as the weights have.
func resnetsAndAttentions(_ w: WeightReader, heads: Int, groups: Int, eps: Float, contextDim: Int, tembDim: Int) throws
    -> ([ResnetBlock2D], [SpatialTransformer]) {
    var resnets: [ResnetBlock2D] = [], attentions: [SpatialTransformer] = []
    var j = 0
    while w["resnets"]["\(j)"]["conv1"].has("weight") {
        let r = try ResnetBlock2D(w["resnets"]["\(j)"], groups: groups, eps: eps, timeEmbeddingDim: tembDim)
        resnets.append(r)
        if w["attentions"]["\(j)"]["norm"].has("weight") {
            attentions.append(try SpatialTransformer(w["attentions"]["\(j)"], channels: r.conv2.outChannels, contextDim: contextDim,
                                                     heads: heads, groups: groups))
        }
        j += 1
    }
    return (resnets, attentions)
}

struct DownBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [SpatialTransformer]
    let downsample: Conv2d?

    init(_ w: WeightReader, heads: Int, groups: Int, eps: Float, contextDim: Int, tembDim: Int) throws {
        let (resnets, attentions) = try resnetsAndAttentions(w, heads: heads, groups: groups, eps: eps, contextDim: contextDim, tembDim: tembDim)
        self.resnets = resnets
        self.attentions = attentions
        let d = w["downsamplers"]["0"]["conv"]
        if d.has("weight") {
            let s = try d.packed("weight").shape
            downsample = try Conv2d(d, inChannels: s[1], outChannels: s[0], kernel: 3, stride: 2, padding: 1)
        } else {
            downsample = nil
        }
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, context: UNetCall, skips: inout [Tensor]) -> Tensor {
        var h = x
        for (j, r) in resnets.enumerated() {
            h = r(h, temb)
            if j < attentions.count { h = attentions[j](h, context: context) }
            skips.append(h)
        }
        if let downsample {
            h = downsample(h)
            skips.append(h)
        }
        return h
    }
}

struct MidBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [SpatialTransformer]

    init(_ w: WeightReader, heads: Int, groups: Int, eps: Float, contextDim: Int, tembDim: Int) throws {
        let first = try ResnetBlock2D(w["resnets"]["0"], groups: groups, eps: eps, timeEmbeddingDim: tembDim)
        var resnets = [first], attentions: [SpatialTransformer] = []
        var j = 0
        while w["attentions"]["\(j)"]["norm"].has("weight") {
            attentions.append(try SpatialTransformer(w["attentions"]["\(j)"], channels: first.conv2.outChannels, contextDim: contextDim,
                                                     heads: heads, groups: groups))
            resnets.append(try ResnetBlock2D(w["resnets"]["\(j + 1)"], groups: groups, eps: eps, timeEmbeddingDim: tembDim))
            j += 1
        }
        self.resnets = resnets
        self.attentions = attentions
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, context: UNetCall) -> Tensor {
        var h = resnets[0](x, temb)
        for (a, r) in zip(attentions, resnets.dropFirst()) { h = r(a(h, context: context), temb) }
        return h
    }
}

struct UpBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [SpatialTransformer]
    let upsample: Conv2d?

    init(_ w: WeightReader, heads: Int, groups: Int, eps: Float, contextDim: Int, tembDim: Int) throws {
        let (resnets, attentions) = try resnetsAndAttentions(w, heads: heads, groups: groups, eps: eps, contextDim: contextDim, tembDim: tembDim)
        guard !resnets.isEmpty else { throw ModelError.missingWeight(location: w.store.location, key: w.key("resnets.0.conv1.weight")) }
        self.resnets = resnets
        self.attentions = attentions
        let u = w["upsamplers"]["0"]["conv"]
        if u.has("weight") {
            let s = try u.packed("weight").shape
            upsample = try Conv2d(u, inChannels: s[1], outChannels: s[0], kernel: 3, padding: 1)
        } else {
            upsample = nil
        }
    }

    /// Each resnet takes the next skip connection; the upsampler then grows to the size of the skip the
    /// next block will take (diffusers' upsample_size), so latents of any size come back to their size.
    func callAsFunction(_ x: Tensor, temb: Tensor, context: UNetCall, skips: inout [Tensor]) -> Tensor {
        var h = x
        for (j, r) in resnets.enumerated() {
            let skip = skips.removeLast().matchingBatch(of: h)
            h = r(Tensor.concat([h, skip], dim: 1), temb)
            if j < attentions.count { h = attentions[j](h, context: context) }
        }
        if let upsample, let target = skips.last {
            h = upsample(h.upsampleNearest(height: target.shape[2], width: target.shape[3]))
        }
        return h
    }
}
