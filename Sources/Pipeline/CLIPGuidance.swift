import Foundation
import Models
import Samplers
import Tensor

/// A square crop of the decoded image: side and top-left corner, in pixels.
public struct Cutout: Equatable, Sendable {
    public var size: Int, x: Int, y: Int
    public init(size: Int, x: Int, y: Int) { (self.size, self.x, self.y) = (size, x, y) }
}

/// The CLIP-guidance loss and its gradient with respect to latents (diffusers' examples/community
/// clip_guided_stable_diffusion.py `cond_fn` from the decode on): decode latents / scaling factor, map to [0, 1] and
/// clamp, cut out crops pooled to the tower's input size (or pool the whole image), normalise, embed, and take the
/// spherical distance of each unit embedding to the prompt's unit text embedding; the loss is the mean over cutouts,
/// summed over the batch, times the scale.
public struct CLIPGuide {
    public let decoder: any DifferentiableLatentDecoding
    public let vision: CLIPVisionModel
    /// The prompt's unit text embedding [D].
    public let text: Tensor
    public var scale: Float
    /// Latents are divided by it before decoding.
    public var scalingFactor: Float
    /// Per-channel normalisation of [0, 1] pixels before the tower: (p − mean) / std. The default model's tower
    /// takes [-1, 1] (0.5, 0.5); OpenAI CLIP uses its image mean and std.
    public var mean: [Float] = [0.5, 0.5, 0.5]
    public var std: [Float] = [0.5, 0.5, 0.5]

    public init(decoder: any DifferentiableLatentDecoding, vision: CLIPVisionModel, text: Tensor, scale: Float, scalingFactor: Float) {
        (self.decoder, self.vision, self.text, self.scale, self.scalingFactor) = (decoder, vision, text, scale, scalingFactor)
    }

    /// The loss and ∂loss/∂latents for latents [B, C, h, w].
    public func lossAndGradient(_ latents: Tensor, cutouts: [Cutout]) throws -> (loss: Float, gradient: Tensor) {
        let tape = Tape()
        let z = tape.variable(latents)
        let image = decoder.decode(z.scaled(1 / scalingFactor)).affine(scale: 0.5, shift: 0.5).clamped(0, 1)
        let side = vision.config.imageSize
        let (height, width) = (image.shape[2], image.shape[3])
        let crops: Variable
        if cutouts.isEmpty {
            crops = image.adaptiveAvgPool2d(height: side, width: side)
        } else {
            for c in cutouts where c.size < 1 || c.x < 0 || c.y < 0 || c.x + c.size > width || c.y + c.size > height {
                throw PipelineError.invalidRequest("cutout \(c) outside the \(width)×\(height) image")
            }
            crops = Variable.concat(cutouts.map {
                image.narrowed(2, start: $0.y, length: $0.size).narrowed(3, start: $0.x, length: $0.size)
                    .adaptiveAvgPool2d(height: side, width: side)
            }, dim: 0)
        }
        let inverseStd = Tensor(std.map { 1 / $0 }, shape: [1, 3, 1, 1])
        let shift = Tensor(zip(mean, std).map { -$0 / $1 }, shape: [1, 3, 1, 1])
        let embeddings = try vision.imageEmbeds(crops.multiplied(by: inverseStd).adding(shift)).normalizedRows()
        let distances = embeddings.sphericalDistance(to: text)
        let batch = latents.shape[0]
        let loss = distances.sum().scaled(scale / Float(cutouts.isEmpty ? batch : cutouts.count))
        let gradient = tape.gradient(of: loss, wrt: [z])[0]
        return (loss.value.pointer[0], gradient)
    }

    /// `count` random square cutouts of an image, as the community pipeline's MakeCutouts draws them: side
    /// ⌊u^power·(max − min) + min⌋ with max = the shorter image side and min = min(max, the tower's input size), at a
    /// uniformly random position. (Where the image is no larger than the tower's input every cutout is the whole
    /// image.)
    public static func randomCutouts(count: Int, width: Int, height: Int, cutSize: Int, power: Double = 1,
                                     using rng: inout some RandomNumberGenerator) -> [Cutout] {
        let maxSize = min(width, height), minSize = min(maxSize, cutSize)
        return (0..<count).map { _ in
            let u = Double.random(in: 0..<1, using: &rng)
            let size = Int(pow(u, power) * Double(maxSize - minSize)) + minSize
            return Cutout(size: size, x: Int.random(in: 0...(width - size), using: &rng), y: Int.random(in: 0...(height - size), using: &rng))
        }
    }
}

/// CLIP guidance as a Denoiser wrapper (architecture rule 3; k-diffusion's CLIP-guided sampling,
/// `cond_denoised = denoised − σ²·∂loss/∂x`). The gradient is taken with respect to the denoised estimate, not through
/// the U-Net: ∂denoised/∂x is approximated by that of the ideal denoiser of unit-variance data, I/(σ² + 1), so
/// cond_denoised = denoised − σ²/(σ² + 1)·∂loss/∂denoised. That costs one decoder and CLIP forward + backward per
/// step instead of a U-Net backward, and the correction fades out as σ → 0.
public final class CLIPGuidedDenoiser: Denoiser {
    let inner: any Denoiser
    let guide: CLIPGuide
    let cutouts: Int
    private var rng: SplitMix64
    /// The loss of the last step (for progress reports and tests).
    public private(set) var lastLoss: Float = .nan

    /// Image pixels per latent pixel (the decoder's upsampling), to size the cutouts.
    let upsampling: Int

    /// `seed` starts the generator of cutout positions.
    public init(_ inner: any Denoiser, guide: CLIPGuide, cutouts: Int, seed: UInt64, upsampling: Int) {
        self.inner = inner
        self.guide = guide
        self.cutouts = cutouts
        self.upsampling = upsampling
        rng = SplitMix64(seed: seed)
    }

    public func denoise(_ x: Tensor, level: NoiseLevel) throws -> Tensor {
        let denoised = try inner.denoise(x, level: level)
        guard level.sigma > 0 else { return denoised }
        var cuts: [Cutout] = []
        if cutouts > 0 {
            let (w, h) = (x.shape[3] * upsampling, x.shape[2] * upsampling)
            cuts = CLIPGuide.randomCutouts(count: cutouts, width: w, height: h, cutSize: guide.vision.config.imageSize, using: &rng)
        }
        let (loss, gradient) = try guide.lossAndGradient(denoised, cutouts: cuts)
        lastLoss = loss
        let s2 = Float(level.sigma * level.sigma)
        let factor = s2 / (s2 + 1)
        return Tensor.zip(denoised, gradient) { $0 - factor * $1 }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small seeded generator for cutout positions.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
