import Tensor

/// A point of the noise schedule: the noise level σ, and the model timestep the reference scheduler pairs with it
/// (nil where a sampler makes its own intermediate σ; the model adapter then derives it by log-σ interpolation).
public struct NoiseLevel: Equatable, Sendable, CustomStringConvertible {
    public var sigma: Double
    public var timestep: Double?

    public init(sigma: Double, timestep: Double? = nil) {
        self.sigma = sigma
        self.timestep = timestep
    }

    public var description: String { "σ=\(sigma)" + (timestep.map { " t=\($0)" } ?? "") }
}

/// A model seen by a sampler (k-diffusion convention): given noisy latents `x` at noise level σ, return the
/// denoised estimate of the clean latents. Prediction type, CFG and inpaint blending are wrappers that conform
/// to this protocol; samplers never see them.
public protocol Denoiser {
    func denoise(_ x: Tensor, level: NoiseLevel) throws -> Tensor
}

/// Per-step progress: step index (0-based), step count, the current latents and the denoised estimate.
/// Return false to cancel; the sampler then throws `SamplerError.cancelled`.
public typealias SamplerCallback = (_ step: Int, _ steps: Int, _ x: Tensor, _ denoised: Tensor) -> Bool

/// Replaces the latents after step i (0-based) before the next step starts: how diffusers' inpainting with an
/// ordinary U-Net blends the known region back in (`latents = (1 − mask)·noised_original + mask·latents`). Samplers
/// keep their own history (multistep denoised estimates) untouched, as diffusers' schedulers do.
public typealias AfterStep = (_ step: Int, _ x: Tensor) -> Tensor

public enum SamplerError: Error, CustomStringConvertible, Equatable {
    case cancelled(afterStep: Int)
    case unknownSampler(String)
    case unknownSchedule(String)

    public var description: String {
        switch self {
        case let .cancelled(step): "cancelled after step \(step)"
        case let .unknownSampler(name): "unknown sampler '\(name)'; valid: \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))"
        case let .unknownSchedule(name): "unknown schedule '\(name)'; valid: \(SigmaSchedule.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
