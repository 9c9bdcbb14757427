import Checkpoint
import Foundation
import Tensor

/// Latents → image in [-1, 1] ([B, 3, 8H, 8W] for SD). Latents are in the autoencoder's own space
/// (already divided by the scaling factor).
public protocol LatentDecoding {
    func decode(_ latents: Tensor) -> Tensor
}

extension LatentDecoding {
    /// `decode`, or with `tiled` diffusers' tiled decode where the autoencoder has one (KL); others decode whole.
    /// Tiles share the decoder's bf16-packed weights (`BF16Compute.cachingWeights`: packed once, not once per tile).
    public func decode(_ latents: Tensor, tiled: Bool) -> Tensor {
        if tiled, let kl = self as? AutoencoderKL { return BF16Compute.cachingWeights { kl.decodeTiled(latents) } }
        return decode(latents)
    }
}

/// Image in [-1, 1] → latents (before scaling).
public protocol LatentEncoding {
    func encode(_ image: Tensor) -> Tensor
}

/// What a pipeline needs of an autoencoder: decode, an encoding for img2img/inpainting, and its geometry.
public protocol LatentAutoencoder: LatentDecoding, LatentEncoding {
    var config: AutoencoderConfig { get }
    /// Image pixels per latent pixel.
    var downscaleFactor: Int { get }
    /// Latent channels the decoder takes.
    var latentChannels: Int { get }
    /// The latents a pipeline starts img2img from (unscaled): a posterior sample (KL, noise from the caller's
    /// generator) or the deterministic encoding (VQ).
    func encodeForSampling(_ image: Tensor, noise: (_ shape: [Int]) -> Tensor) -> Tensor
}

/// diffusers AutoencoderKL / VQModel config values shapes cannot tell.
public struct AutoencoderConfig: Decodable, Sendable {
    public var normNumGroups = 32
    public var scalingFactor: Float = 0.18215
    /// The image size the autoencoder was trained at: the tile size of a tiled decode (SD 1.x: 512).
    public var sampleSize = 512

    enum CodingKeys: String, CodingKey { case normNumGroups = "norm_num_groups", scalingFactor = "scaling_factor", sampleSize = "sample_size" }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? 32
        scalingFactor = (try? c.decodeIfPresent(Float.self, forKey: .scalingFactor)) ?? 0.18215
        sampleSize = (try? c.decodeIfPresent(Int.self, forKey: .sampleSize)) ?? (try? c.decodeIfPresent([Int].self, forKey: .sampleSize))?.first ?? 512
    }

    public static func load(_ path: String) throws -> AutoencoderConfig { try loadConfig(path) }
}

/// diffusers' VAE attention (single head, group norm, biased q/k/v/out, residual).
struct VAEAttention {
    let norm: GroupNorm
    let q, k, v, out: Linear

    init(_ w: WeightReader, channels: Int, groups: Int) throws {
        norm = try GroupNorm(w["group_norm"], groups: groups, channels: channels, eps: 1e-6)
        q = try Linear(w["to_q"], inFeatures: channels, outFeatures: channels)
        k = try Linear(w["to_k"], inFeatures: channels, outFeatures: channels)
        v = try Linear(w["to_v"], inFeatures: channels, outFeatures: channels)
        out = try Linear(w["to_out"]["0"], inFeatures: channels, outFeatures: channels)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = norm(x).reshaped([b, c, h * wd]).transposed(1, 2) // [B, HW, C]
        let a = Tensor.scaledDotProductAttention(query: q(y).unsqueezed(1), key: k(y).unsqueezed(1), value: v(y).unsqueezed(1))
        let o = out(a.reshaped([b, h * wd, c])).transposed(1, 2).reshaped([b, c, h, wd])
        return x + o
    }
}

/// UNetMidBlock2D as the autoencoders use it: resnet, attention, resnet (no time embedding).
struct VAEMidBlock {
    let resnet1, resnet2: ResnetBlock2D
    let attention: VAEAttention?

    init(_ w: WeightReader, groups: Int) throws {
        resnet1 = try ResnetBlock2D(w["resnets"]["0"], groups: groups, eps: 1e-6, timeEmbeddingDim: nil)
        resnet2 = try ResnetBlock2D(w["resnets"]["1"], groups: groups, eps: 1e-6, timeEmbeddingDim: nil)
        attention = w["attentions"]["0"]["group_norm"].has("weight")
            ? try VAEAttention(w["attentions"]["0"], channels: resnet1.conv2.outChannels, groups: groups) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnet1(x, nil)
        if let attention { h = attention(h) }
        return resnet2(h, nil)
    }
}

func resnets(_ w: WeightReader, groups: Int) throws -> [ResnetBlock2D] {
    var out: [ResnetBlock2D] = []
    var j = 0
    while w["resnets"]["\(j)"]["conv1"].has("weight") {
        out.append(try ResnetBlock2D(w["resnets"]["\(j)"], groups: groups, eps: 1e-6, timeEmbeddingDim: nil))
        j += 1
    }
    return out
}

func convFromShape(_ w: WeightReader, stride: Int = 1, padding: Int? = nil) throws -> Conv2d {
    let s = try w.packed("weight").shape
    return try Conv2d(w, inChannels: s[1], outChannels: s[0], kernel: s[2], stride: stride, padding: padding ?? s[2] / 2)
}

/// diffusers Encoder: conv_in → down blocks (resnets, then a stride-2 conv after padding right/bottom by one)
/// → mid block → GroupNorm → SiLU → conv_out.
struct VAEEncoder {
    let convIn, convOut: Conv2d
    let down: [(resnets: [ResnetBlock2D], downsample: Conv2d?)]
    let mid: VAEMidBlock
    let normOut: GroupNorm

    init(_ w: WeightReader, groups: Int) throws {
        convIn = try convFromShape(w["conv_in"])
        var down: [(resnets: [ResnetBlock2D], downsample: Conv2d?)] = []
        var i = 0
        while w["down_blocks"]["\(i)"]["resnets"]["0"]["conv1"].has("weight") {
            let b = w["down_blocks"]["\(i)"]
            let d = b["downsamplers"]["0"]["conv"]
            down.append((try resnets(b, groups: groups), d.has("weight") ? try convFromShape(d, stride: 2, padding: 0) : nil))
            i += 1
        }
        self.down = down
        mid = try VAEMidBlock(w["mid_block"], groups: groups)
        convOut = try convFromShape(w["conv_out"])
        normOut = try GroupNorm(w["conv_norm_out"], groups: groups, channels: convOut.weight.shape[1], eps: 1e-6)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convIn(x)
        for block in down {
            for r in block.resnets { h = r(h, nil) }
            if let d = block.downsample { h = d(h.padded2d(bottom: 1, right: 1)) }
        }
        return convOut(normOut.silu(mid(h)))
    }
}

/// diffusers Decoder: conv_in → mid block → up blocks (resnets, then nearest 2× and a conv) → GroupNorm → SiLU → conv_out.
struct VAEDecoder {
    let convIn, convOut: Conv2d
    let mid: VAEMidBlock
    let up: [(resnets: [ResnetBlock2D], upsample: Conv2d?)]
    let normOut: GroupNorm

    init(_ w: WeightReader, groups: Int) throws {
        convIn = try convFromShape(w["conv_in"])
        mid = try VAEMidBlock(w["mid_block"], groups: groups)
        var up: [(resnets: [ResnetBlock2D], upsample: Conv2d?)] = []
        var i = 0
        while w["up_blocks"]["\(i)"]["resnets"]["0"]["conv1"].has("weight") {
            let b = w["up_blocks"]["\(i)"]
            let u = b["upsamplers"]["0"]["conv"]
            up.append((try resnets(b, groups: groups), u.has("weight") ? try convFromShape(u) : nil))
            i += 1
        }
        self.up = up
        convOut = try convFromShape(w["conv_out"])
        normOut = try GroupNorm(w["conv_norm_out"], groups: groups, channels: convOut.weight.shape[1], eps: 1e-6)
    }

    func callAsFunction(_ z: Tensor) -> Tensor {
        var h = mid(convIn(z))
        for block in up {
            for r in block.resnets { h = r(h, nil) }
            if let u = block.upsample { h = u(h.upsampleNearest2x()) }
        }
        return convOut(normOut.silu(h))
    }
}

/// diffusers AutoencoderKL (the Stable Diffusion VAE).
public final class AutoencoderKL: LatentAutoencoder {
    public let config: AutoencoderConfig
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv, postQuantConv: Conv2d?

    public init(config: AutoencoderConfig, weights: WeightStore) throws {
        self.config = config
        let w = WeightReader(weights)
        encoder = try VAEEncoder(w["encoder"], groups: config.normNumGroups)
        decoder = try VAEDecoder(w["decoder"], groups: config.normNumGroups)
        quantConv = w["quant_conv"].has("weight") ? try convFromShape(w["quant_conv"]) : nil
        postQuantConv = w["post_quant_conv"].has("weight") ? try convFromShape(w["post_quant_conv"]) : nil
    }

    /// The posterior's mean and log-variance (clamped to [-30, 20] as diffusers' DiagonalGaussianDistribution).
    public func encodeDistribution(_ image: Tensor) -> (mean: Tensor, logvar: Tensor) {
        var h = encoder(image)
        if let quantConv { h = quantConv(h) }
        let parts = h.chunk(2, dim: 1)
        return (parts[0].contiguous(), parts[1].map { min(max($0, -30), 20) })
    }

    /// The posterior mean (deterministic encoding).
    public func encode(_ image: Tensor) -> Tensor { encodeDistribution(image).mean }

    /// A posterior sample mean + exp(logvar / 2) · noise, with noise from the caller's generator.
    public func encodeSample(_ image: Tensor, noise: (_ shape: [Int]) -> Tensor) -> Tensor {
        let (mean, logvar) = encodeDistribution(image)
        let std = logvar.map { Foundation.exp(0.5 * $0) }
        return mean + std * noise(mean.shape)
    }

    public func decode(_ latents: Tensor) -> Tensor {
        decoder(postQuantConv?(latents) ?? latents)
    }

    public func encodeForSampling(_ image: Tensor, noise: (_ shape: [Int]) -> Tensor) -> Tensor { encodeSample(image, noise: noise) }

    /// diffusers' tiled decode (`enable_tiling()`, AutoencoderKL.tiled_decode): latents larger than a tile
    /// (sample_size / 2^(blocks − 1) latent pixels) are decoded in tiles overlapping by a quarter, each tile blended into
    /// its upper and left neighbours over a quarter of the sample size and cropped to ¾ of it. The decoder's activations
    /// then never exceed one tile's: a 1024 px image decodes in a 512 px image's memory. (Not identical to a whole
    /// decode: the mid-block attention sees one tile.)
    public func decodeTiled(_ z: Tensor) -> Tensor {
        let latentTile = config.sampleSize / (1 << (decoder.up.count - 1))
        let (h, w) = (z.shape[2], z.shape[3])
        guard h > latentTile || w > latentTile else { return decode(z) }
        let overlap = Int(Double(latentTile) * 0.75), blendExtent = Int(Double(config.sampleSize) * 0.25)
        let rowLimit = config.sampleSize - blendExtent
        var rows: [[Tensor]] = []
        for i in stride(from: 0, to: h, by: overlap) {
            rows.append(stride(from: 0, to: w, by: overlap).map { j in
                decode(z.narrowed(2, start: i, length: min(latentTile, h - i)).narrowed(3, start: j, length: min(latentTile, w - j)).contiguous())
            })
        }
        /// b's first rows (vertical) or columns faded in from a's last ones, in place (diffusers blend_v / blend_h).
        func blend(_ a: Tensor, into b: Tensor, vertical: Bool) {
            let d = vertical ? 2 : 3
            let extent = min(a.shape[d], b.shape[d], blendExtent)
            for y in 0..<extent {
                let wa = Float(1 - Double(y) / Double(extent)), wb = Float(Double(y) / Double(extent))
                let from = a.narrowed(d, start: a.shape[d] - extent + y, length: 1), to = b.narrowed(d, start: y, length: 1)
                to.assign(Tensor.zip(from.contiguous(), to.contiguous()) { $0 * wa + $1 * wb })
            }
        }
        var bands: [Tensor] = []
        for i in rows.indices {
            var pieces: [Tensor] = []
            for j in rows[i].indices {
                let tile = rows[i][j]
                if i > 0 { blend(rows[i - 1][j], into: tile, vertical: true) }
                if j > 0 { blend(rows[i][j - 1], into: tile, vertical: false) }
                pieces.append(tile.narrowed(2, start: 0, length: min(rowLimit, tile.shape[2])).narrowed(3, start: 0, length: min(rowLimit, tile.shape[3])))
            }
            bands.append(Tensor.concat(pieces, dim: 3))
        }
        return Tensor.concat(bands, dim: 2)
    }

    /// Image pixels per latent pixel: 2^(upsampling decoder blocks) — 8 for Stable Diffusion.
    public var downscaleFactor: Int { 1 << decoder.up.filter { $0.upsample != nil }.count }

    /// Latent channels the decoder takes.
    public var latentChannels: Int { postQuantConv?.weight.shape[1] ?? decoder.convIn.weight.shape[1] }
}

/// diffusers VQModel (latent-diffusion VQ-f4/f8): encoder, quant_conv, nearest-codebook quantisation,
/// post_quant_conv, decoder.
public final class VQModel: LatentAutoencoder {
    public let config: AutoencoderConfig
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv, postQuantConv: Conv2d
    public let codebook: Tensor

    public init(config: AutoencoderConfig, weights: WeightStore) throws {
        self.config = config
        let w = WeightReader(weights)
        encoder = try VAEEncoder(w["encoder"], groups: config.normNumGroups)
        decoder = try VAEDecoder(w["decoder"], groups: config.normNumGroups)
        quantConv = try convFromShape(w["quant_conv"])
        postQuantConv = try convFromShape(w["post_quant_conv"])
        codebook = try w["quantize"]["embedding"].tensor("weight")
    }

    /// Latents before quantisation.
    public func encode(_ image: Tensor) -> Tensor { quantConv(encoder(image)) }

    /// Nearest codebook entry (Euclidean) for every latent pixel: the quantised latents and the indices.
    public func quantize(_ h: Tensor) -> (quantized: Tensor, indices: [Int]) {
        let (b, c, hh, ww) = (h.shape[0], h.shape[1], h.shape[2], h.shape[3])
        let flat = h.permuted([0, 2, 3, 1]).contiguous()
        let e = codebook.contiguous()
        let n = e.shape[0]
        precondition(e.shape[1] == c, "codebook of dimension \(e.shape[1]) for \(c)-channel latents")
        var indices = [Int](repeating: 0, count: b * hh * ww)
        let out = Tensor.empty([b, hh, ww, c])
        for p in 0..<(b * hh * ww) {
            let z = flat.pointer + p * c
            var best = 0, bestDistance = Double.infinity
            for j in 0..<n {
                var d = 0.0
                for k in 0..<c { let t = Double(z[k]) - Double(e.pointer[j * c + k]); d += t * t }
                if d < bestDistance { bestDistance = d; best = j }
            }
            indices[p] = best
            (out.pointer + p * c).update(from: e.pointer + best * c, count: c)
        }
        return (out.permuted([0, 3, 1, 2]).contiguous(), indices)
    }

    /// Decodes latents, quantising them first unless `forceNotQuantize` (diffusers' VQModel.decode).
    public func decode(_ latents: Tensor, forceNotQuantize: Bool) -> Tensor {
        let q = forceNotQuantize ? latents : quantize(latents).quantized
        return decoder(postQuantConv(q))
    }

    public func decode(_ latents: Tensor) -> Tensor { decode(latents, forceNotQuantize: false) }

    public func encodeForSampling(_ image: Tensor, noise: (_ shape: [Int]) -> Tensor) -> Tensor { encode(image) }

    public var downscaleFactor: Int { 1 << decoder.up.filter { $0.upsample != nil }.count }
    public var latentChannels: Int { postQuantConv.weight.shape[1] }
}
