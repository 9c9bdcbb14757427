import Checkpoint
import Foundation
import Tensor

/// diffusers ResnetBlock2D: norm1 → SiLU → conv1 → + time_emb_proj(SiLU(temb)) → norm2 → SiLU → conv2, plus a
/// 1×1 conv_shortcut when channels change. Channel counts come from the weights.
struct ResnetBlock2D {
    let norm1, norm2: GroupNorm
    let conv1, conv2: Conv2d
    let timeEmbProj: Linear?
    let shortcut: Conv2d?

    init(_ w: WeightReader, groups: Int, eps: Float, timeEmbeddingDim: Int?) throws {
        let shape = try w["conv1"].packed("weight").shape
        let (cout, cin) = (shape[0], shape[1])
        norm1 = try GroupNorm(w["norm1"], groups: groups, channels: cin, eps: eps)
        conv1 = try Conv2d(w["conv1"], inChannels: cin, outChannels: cout, kernel: 3, padding: 1)
        norm2 = try GroupNorm(w["norm2"], groups: groups, channels: cout, eps: eps)
        conv2 = try Conv2d(w["conv2"], inChannels: cout, outChannels: cout, kernel: 3, padding: 1)
        timeEmbProj = try timeEmbeddingDim.map { try Linear(w["time_emb_proj"], inFeatures: $0, outFeatures: cout) }
        shortcut = w["conv_shortcut"].has("weight") ? try Conv2d(w["conv_shortcut"], inChannels: cin, outChannels: cout, kernel: 1) : nil
    }

    func callAsFunction(_ x: Tensor, _ temb: Tensor?) -> Tensor {
        var h = conv1(norm1.silu(x))
        if let timeEmbProj, let temb {
            let t = timeEmbProj(temb.matchingBatch(of: h).silu())
            h = h + t.reshaped([t.shape[0], t.shape[1], 1, 1])
        }
        h = conv2(norm2.silu(h))
        return (shortcut?(x) ?? x) + h
    }
}

/// diffusers Attention (to_q/to_k/to_v without bias, to_out.0 with bias), scaled-dot-product per head.
struct CrossAttention {
    let q, k, v, out: Linear
    let heads: Int

    init(_ w: WeightReader, dim: Int, contextDim: Int, heads: Int) throws {
        q = try Linear(w["to_q"], inFeatures: dim, outFeatures: dim, optionalBias: true)
        k = try Linear(w["to_k"], inFeatures: contextDim, outFeatures: dim, optionalBias: true)
        v = try Linear(w["to_v"], inFeatures: contextDim, outFeatures: dim, optionalBias: true)
        out = try Linear(w["to_out"]["0"], inFeatures: dim, outFeatures: dim)
        self.heads = heads
    }

    /// Self-attention without `context`; cross-attention on `context`'s tokens, whose keys and values it computes once
    /// per context (`CrossAttentionContext`).
    func callAsFunction(_ x: Tensor, context: CrossAttentionContext? = nil) -> Tensor {
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
        let hd = d / heads
        let (keys, values) = context.map { ctx in
            ctx.keysAndValues(layer: Int(bitPattern: k.weight.raw), flops: 4 * ctx.tensor.count * d) { (k(ctx.tensor), v(ctx.tensor)) }
        } ?? (k(x), v(x))
        let m = keys.shape[1]
        let qh = q(x).reshaped([b, n, heads, hd]).transposed(1, 2)
        let kh = keys.reshaped([b, m, heads, hd]).transposed(1, 2)
        let vh = values.reshaped([b, m, heads, hd]).transposed(1, 2)
        let a = Tensor.scaledDotProductAttention(query: qh, key: kh, value: vh)
        return out(a.transposed(1, 2).reshaped([b, n, d]))
    }
}

/// diffusers BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, each pre-norm + residual.
struct BasicTransformerBlock {
    let norm1, norm2, norm3: LayerNorm
    let attn1, attn2: CrossAttention
    let ffIn, ffOut: Linear

    init(_ w: WeightReader, dim: Int, contextDim: Int, heads: Int) throws {
        norm1 = try LayerNorm(w["norm1"], dim: dim, eps: 1e-5)
        norm2 = try LayerNorm(w["norm2"], dim: dim, eps: 1e-5)
        norm3 = try LayerNorm(w["norm3"], dim: dim, eps: 1e-5)
        attn1 = try CrossAttention(w["attn1"], dim: dim, contextDim: dim, heads: heads)
        attn2 = try CrossAttention(w["attn2"], dim: dim, contextDim: contextDim, heads: heads)
        let inner2 = try w["ff"]["net"]["0"]["proj"].packed("weight").shape[0]
        ffIn = try Linear(w["ff"]["net"]["0"]["proj"], inFeatures: dim, outFeatures: inner2)
        ffOut = try Linear(w["ff"]["net"]["2"], inFeatures: inner2 / 2, outFeatures: dim)
    }

    func callAsFunction(_ x: Tensor, context: UNetCall) -> Tensor {
        var h = context.widened(x + attn1(norm1(x)))
        h = h + attn2(norm2(h), context: context.context)
        // GEGLU: proj → (hidden, gate) → hidden · GELU(gate)
        return h + ffOut(ffIn(norm3(h)).geglu())
    }
}

/// diffusers Transformer2DModel (continuous input): GroupNorm(eps 1e-6) → proj_in (1×1 conv, or linear when
/// `use_linear_projection`, told by the weight's rank) → transformer blocks → proj_out → + residual.
struct SpatialTransformer {
    let norm: GroupNorm
    let projIn, projOut: PackedTensor
    let projInBias, projOutBias: Tensor
    let linearProjection: Bool
    let blocks: [BasicTransformerBlock]

    init(_ w: WeightReader, channels: Int, contextDim: Int, heads: Int, groups: Int) throws {
        norm = try GroupNorm(w["norm"], groups: groups, channels: channels, eps: 1e-6)
        projIn = try w["proj_in"].packed("weight")
        projOut = try w["proj_out"].packed("weight")
        projInBias = try w["proj_in"].tensor("bias", shape: [channels])
        projOutBias = try w["proj_out"].tensor("bias", shape: [channels])
        linearProjection = projIn.rank == 2
        let inner = projIn.shape[0]
        var blocks: [BasicTransformerBlock] = []
        var i = 0
        while w["transformer_blocks"]["\(i)"]["norm1"].has("weight") {
            blocks.append(try BasicTransformerBlock(w["transformer_blocks"]["\(i)"], dim: inner, contextDim: contextDim, heads: heads))
            i += 1
        }
        self.blocks = blocks
    }

    func callAsFunction(_ x: Tensor, context: UNetCall) -> Tensor {
        let (b, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = norm(x)
        let inner = projIn.shape[0]
        if linearProjection {
            y = y.permuted([0, 2, 3, 1]).reshaped([b, h * wd, c]).linear(packedWeight: projIn, bias: projInBias)
        } else {
            y = y.conv2d(packedWeight: projIn, bias: projInBias).permuted([0, 2, 3, 1]).reshaped([b, h * wd, inner])
        }
        for block in blocks { y = block(y, context: context) }
        let rows = y.shape[0]  // b, or more where the first cross-attention repeated the batch
        if linearProjection {
            y = y.linear(packedWeight: projOut.reshaped([c, inner]), bias: projOutBias).reshaped([rows, h, wd, c]).permuted([0, 3, 1, 2])
        } else {
            y = y.reshaped([rows, h, wd, inner]).permuted([0, 3, 1, 2]).conv2d(packedWeight: projOut, bias: projOutBias)
        }
        return x.matchingBatch(of: y) + y
    }
}

/// One U-Net call's context (`CrossAttentionContext`) and the repeat of latents shared by its rows: a hidden state of
/// fewer rows than the context is repeated to them where the context first enters (`widened`). The FLOP counter is
/// credited there with the repeats' share of the work done before, so benchmark figures stay the direct computation's.
final class UNetCall {
    let context: CrossAttentionContext
    private let flopsAtStart: Int?
    private var credited = false

    init(context: CrossAttentionContext) {
        self.context = context
        flopsAtStart = FLOPCounter.runningTotal
    }

    /// `h` with its batch repeated to the context's rows (as is where they are equal).
    func widened(_ h: Tensor) -> Tensor {
        let rows = context.tensor.shape[0]
        guard h.shape[0] < rows else { return h }
        if !credited, let flopsAtStart, let now = FLOPCounter.runningTotal {
            FLOPCounter.creditReused((rows / h.shape[0] - 1) * (now - flopsAtStart))
            credited = true
        }
        return h.repeatedBatch(rows / h.shape[0])
    }
}

/// The text context [B, tokens, contextDim] of U-Net calls with each cross-attention layer's keys and values
/// (to_k, to_v on the tokens), computed on first use and kept: every sampler step attends to the same context, so the
/// projections are made once per generation instead of once per step (exact: the same products, reused). The U-Net
/// keeps the last one and reuses it while the context it is given holds the same values (`UNet2DConditionModel`).
final class CrossAttentionContext: @unchecked Sendable {
    /// A private contiguous copy: later changes to the caller's tensor cannot reach the cached projections.
    let tensor: Tensor
    /// Per layer (its to_k weight's address) and compute path (fp32, or a bf16 kernel: a path switched between
    /// generations, in the studio or a test, must not be handed the other path's products).
    private struct Key: Hashable { let layer: Int, bf16: BF16Compute.Kernel? }
    private var projections: [Key: (Tensor, Tensor)] = [:]
    private let lock = NSLock()

    init(_ context: Tensor) { tensor = context.copy() }

    /// Whether `other` holds exactly this context's values (bit for bit).
    func matches(_ other: Tensor) -> Bool {
        guard other.shape == tensor.shape else { return false }
        let o = other.contiguous()
        return withExtendedLifetime(o) { memcmp(o.pointer, tensor.pointer, tensor.count * MemoryLayout<Float>.size) == 0 }
    }

    /// The layer's keys and values: cached, or made by `compute` (outside the lock) and kept. A reuse credits the
    /// FLOP counter with the products it saved (`flops`), so benchmark figures stay the direct computation's.
    func keysAndValues(layer: Int, flops: Int, _ compute: () -> (Tensor, Tensor)) -> (Tensor, Tensor) {
        let key = Key(layer: layer, bf16: BF16Compute.currentKernel)
        lock.lock()
        let cached = projections[key]
        lock.unlock()
        if let cached {
            FLOPCounter.creditReused(flops)
            return cached
        }
        let made = compute()
        lock.lock()
        projections[key] = made
        lock.unlock()
        return made
    }
}
