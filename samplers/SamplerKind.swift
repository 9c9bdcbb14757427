import Tensor

/// The samplers by CLI slug, with A1111's display names.
public enum SamplerKind: String, CaseIterable, Sendable {
    case euler, eulerAncestral = "euler_a", heun, dpmpp2m = "dpmpp_2m", ddim, lms

    public var displayName: String {
        switch self {
        case .euler: "Euler"
        case .eulerAncestral: "Euler a"
        case .heun: "Heun"
        case .dpmpp2m: "DPM++ 2M"
        case .ddim: "DDIM"
        case .lms: "LMS"
        }
    }

    public init(slug: String) throws {
        guard let kind = SamplerKind(rawValue: slug) else { throw SamplerError.unknownSampler(slug) }
        self = kind
    }

    /// Runs the sampler from `x` (noised to levels[0].sigma) down the schedule.
    /// `noise(shape)` draws standard normal noise for ancestral/SDE samplers (the caller's RNG).
    /// `eta` is DDIM's stochasticity (0 = deterministic, A1111's default).
    public func sample(_ denoiser: Denoiser, _ x: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                       eta: Float = 0, afterStep: AfterStep? = nil, callback: SamplerCallback? = nil) throws -> Tensor {
        switch self {
        case .euler: try sampleEuler(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .eulerAncestral: try sampleEulerAncestral(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .heun: try sampleHeun(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .dpmpp2m: try sampleDPMPP2M(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .ddim: try sampleDDIM(denoiser, x, levels: levels, eta: eta, noise: noise, callback: callback, afterStep: afterStep)
        case .lms: try sampleLMS(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        }
    }
}

/// After step i: applies the caller's `afterStep` (inpainting's latent blend), calls the callback (a false return
/// cancels) and returns the latents the next step starts from.
@inline(__always)
func report(_ callback: SamplerCallback?, _ afterStep: AfterStep?, _ i: Int, _ steps: Int, _ x: Tensor, _ denoised: Tensor) throws -> Tensor {
    let next = afterStep?(i, x) ?? x
    if let callback, !callback(i, steps, next, denoised) { throw SamplerError.cancelled(afterStep: i) }
    return next
}

/// x + (x − denoised)/σ · (σ_next − σ): one Euler step of the probability-flow ODE, in float32 as diffusers.
@inline(__always)
func eulerStep(_ x: Tensor, _ denoised: Tensor, sigma: Float, to next: Float) -> Tensor {
    let d = (x - denoised).map { $0 / sigma }
    return Tensor.zip(x, d) { $0 + $1 * (next - sigma) }
}
