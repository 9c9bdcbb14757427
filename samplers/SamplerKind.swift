import Tensor

/// The samplers by CLI slug, with A1111's display names.
public enum SamplerKind: String, CaseIterable, Sendable {
    case euler, eulerAncestral = "euler_a", heun, dpm2, dpm2Ancestral = "dpm2_a", lms
    case dpmpp2m = "dpmpp_2m", dpmpp2sAncestral = "dpmpp_2s_a", dpmppSDE = "dpmpp_sde", dpmpp2mSDE = "dpmpp_2m_sde"
    case dpmpp3mSDE = "dpmpp_3m_sde", ddim, plms, ddpm, unipc, lcm

    public var displayName: String {
        switch self {
        case .euler: "Euler"
        case .eulerAncestral: "Euler a"
        case .heun: "Heun"
        case .dpm2: "DPM2"
        case .dpm2Ancestral: "DPM2 a"
        case .lms: "LMS"
        case .dpmpp2m: "DPM++ 2M"
        case .dpmpp2sAncestral: "DPM++ 2S a"
        case .dpmppSDE: "DPM++ SDE"
        case .dpmpp2mSDE: "DPM++ 2M SDE"
        case .dpmpp3mSDE: "DPM++ 3M SDE"
        case .ddim: "DDIM"
        case .plms: "PLMS"
        case .ddpm: "DDPM"
        case .unipc: "UniPC"
        case .lcm: "LCM"
        }
    }

    /// Accepts the slug or A1111's display name, case-insensitively ("DPM++ 2M", "Euler a").
    public init(slug: String) throws {
        let key = slug.lowercased()
        guard let kind = SamplerKind(rawValue: key) ?? SamplerKind.allCases.first(where: { $0.displayName.lowercased() == key })
        else { throw SamplerError.unknownSampler(slug) }
        self = kind
    }

    /// Whether the sampler draws fresh noise while sampling (ancestral and SDE samplers, DDPM, LCM; DDIM with η > 0).
    public var isStochastic: Bool {
        switch self {
        case .eulerAncestral, .dpm2Ancestral, .dpmpp2sAncestral, .dpmppSDE, .dpmpp2mSDE, .dpmpp3mSDE, .ddpm, .lcm: true
        default: false
        }
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
        case .dpm2: try sampleDPM2(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .dpm2Ancestral: try sampleDPM2Ancestral(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .lms: try sampleLMS(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .dpmpp2m: try sampleDPMPP2M(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .dpmpp2sAncestral: try sampleDPMPP2SAncestral(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .dpmppSDE: try sampleDPMPPSDE(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .dpmpp2mSDE: try sampleDPMPP2MSDE(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .dpmpp3mSDE: try sampleDPMPP3MSDE(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .ddim: try sampleDDIM(denoiser, x, levels: levels, eta: eta, noise: noise, callback: callback, afterStep: afterStep)
        case .plms: try samplePLMS(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .ddpm: try sampleDDPM(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
        case .unipc: try sampleUniPC(denoiser, x, levels: levels, callback: callback, afterStep: afterStep)
        case .lcm: try sampleLCM(denoiser, x, levels: levels, noise: noise, callback: callback, afterStep: afterStep)
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
