import Foundation

/// How inference timesteps are spaced over the training range (diffusers `timestep_spacing`).
public enum TimestepSpacing: String, Sendable, CaseIterable, Decodable {
    case leading, trailing, linspace
}

/// The σ schedule a sampler walks (any sampler × any schedule).
public enum SigmaSchedule: String, Sendable, CaseIterable {
    /// σ of the spaced timesteps ("normal"/"discrete": diffusers' default).
    case normal
    /// Karras et al. 2022, ρ = 7, between the model's σ_min and σ_max.
    case karras
    /// Evenly spaced in log σ.
    case exponential
    /// A1111/ComfyUI "Simple": every (N/steps)-th training σ from the top, integer timesteps.
    case simple
    /// A1111/ComfyUI "SGM Uniform": timesteps evenly spaced from σ_max's to σ_min's over steps + 1 points (the
    /// last dropped), σ by log-linear interpolation of the training σ (k-diffusion's t_to_sigma).
    case sgmUniform = "sgm_uniform"

    /// A1111's name ("Schedule type" in its PNG parameters).
    public var displayName: String {
        switch self {
        case .normal: "Normal"
        case .karras: "Karras"
        case .exponential: "Exponential"
        case .simple: "Simple"
        case .sgmUniform: "SGM Uniform"
        }
    }

    /// Schedules computed from the training σ alone, the same for every sampler (A1111's and ComfyUI's).
    var isModelWide: Bool { self == .simple || self == .sgmUniform }
}

extension DiscreteSchedule {
    /// σ at a fractional timestep by linear interpolation of log σ (k-diffusion DiscreteSchedule.t_to_sigma).
    public func logInterpolatedSigma(atTimestep t: Double) -> Double {
        let clamped = min(max(t, 0), Double(trainSteps - 1))
        let low = Int(clamped.rounded(.down)), high = Int(clamped.rounded(.up))
        let w = clamped - Double(low)
        return Foundation.exp((1 - w) * Double(logSigmas[low]) + w * Double(logSigmas[high]))
    }

    /// The A1111/ComfyUI schedules "simple" and "sgm_uniform" (see SigmaSchedule), ending with σ = 0.
    func modelWideLevels(steps: Int, schedule: SigmaSchedule) -> [NoiseLevel] {
        var levels: [NoiseLevel]
        switch schedule {
        case .simple:
            let stride = Double(trainSteps) / Double(steps)
            levels = (0..<steps).map { x in
                let t = trainSteps - 1 - Int(Double(x) * stride)
                return NoiseLevel(sigma: Double(sigmas[t]), timestep: Double(t))
            }
        default:
            let start = timestep(forSigma: Double(sigmas[trainSteps - 1])), end = timestep(forSigma: Double(sigmas[0]))
            levels = numpyLinspace(start, end, steps + 1).dropLast().map { t in
                let t32 = Double(Float(t))
                return NoiseLevel(sigma: Double(Float(logInterpolatedSigma(atTimestep: t32))), timestep: t32)
            }
        }
        levels.append(NoiseLevel(sigma: 0, timestep: nil))
        return levels
    }
}

extension DiscreteSchedule {
    /// diffusers EulerDiscreteScheduler.set_timesteps timesteps (float32 values) for a spacing and steps_offset.
    public func timesteps(steps: Int, spacing: TimestepSpacing, stepsOffset: Int = 0) -> [Double] {
        precondition(steps >= 1 && steps <= trainSteps, "steps must be in 1...\(trainSteps)")
        let n = trainSteps
        switch spacing {
        case .linspace:
            return numpyLinspace(0, Double(n - 1), steps).reversed().map { Double(Float($0)) }
        case .leading:
            let ratio = n / steps
            return (0..<steps).reversed().map { Double($0 * ratio + stepsOffset) }
        case .trailing:
            // numpy arange(n, 0, -ratio): n − i·ratio while > 0, rounded half to even, minus 1.
            let ratio = Double(n) / Double(steps)
            let count = Int((Double(n) / ratio).rounded(.up))
            return (0..<count).map { Double(Float((Double(n) - Double($0) * ratio).rounded(.toNearestOrEven) - 1)) }
        }
    }

    /// The noise levels for `steps` steps, ending with σ = 0 (diffusers EulerDiscreteScheduler, whose σ and
    /// timesteps every k-diffusion-style sampler in diffusers shares).
    public func noiseLevels(steps: Int, schedule: SigmaSchedule = .normal, spacing: TimestepSpacing = .leading,
                            stepsOffset: Int = 0) -> [NoiseLevel] {
        if schedule.isModelWide { return modelWideLevels(steps: steps, schedule: schedule) }
        let ts = timesteps(steps: steps, spacing: spacing, stepsOffset: stepsOffset)
        var sigmas = ts.map { sigma(atTimestep: $0) }
        var times: [Double] = ts
        switch schedule {
        case .normal, .simple, .sgmUniform: break
        case .karras:
            let (lo, hi) = (sigmas[sigmas.count - 1], sigmas[0])
            let rho = 7.0
            let ramp = numpyLinspace(0, 1, steps)
            let minInv = pow(lo, 1 / rho), maxInv = pow(hi, 1 / rho)
            sigmas = ramp.map { pow(maxInv + $0 * (minInv - maxInv), rho) }
            times = sigmas.map { timestep(forSigma: $0) }
        case .exponential:
            let (lo, hi) = (sigmas[sigmas.count - 1], sigmas[0])
            sigmas = numpyLinspace(Foundation.log(hi), Foundation.log(lo), steps).map { Foundation.exp($0) }
            times = sigmas.map { timestep(forSigma: $0) }
        }
        var levels = zip(sigmas, times).map { NoiseLevel(sigma: Double(Float($0)), timestep: Double(Float($1))) }
        levels.append(NoiseLevel(sigma: 0, timestep: nil))
        return levels
    }
}

/// numpy.linspace with endpoint (step = Δ/(n−1), y = i·step + start, last = stop).
func numpyLinspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
    guard n > 1 else { return n == 1 ? [start] : [] }
    let step = (stop - start) / Double(n - 1)
    var y = (0..<n).map { Double($0) * step + start }
    y[n - 1] = stop
    return y
}

extension Array where Element == NoiseLevel {
    /// The scale of the initial noise for these levels: σ_max for `linspace`/`trailing` spacing, √(σ_max²+1)
    /// for `leading` (diffusers EulerDiscreteScheduler.init_noise_sigma; k-diffusion uses σ_max).
    public func initialNoiseSigma(spacing: TimestepSpacing) -> Float {
        let maxSigma = Float(map(\.sigma).max() ?? 0)
        return spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }
}

extension DiscreteSchedule {
    /// The noise levels diffusers' DPMSolverMultistepScheduler uses (its own spacing over n+1 points, Karras and
    /// exponential over the full training σ range, Karras timesteps rounded to integers, final σ = 0).
    public func dpmSolverLevels(steps: Int, schedule: SigmaSchedule = .normal, spacing: TimestepSpacing = .leading,
                                stepsOffset: Int = 0) -> [NoiseLevel] {
        if schedule.isModelWide { return modelWideLevels(steps: steps, schedule: schedule) }
        let last = trainSteps
        var ts: [Double]
        switch spacing {
        case .linspace:
            ts = Array(numpyLinspace(0, Double(last - 1), steps + 1).map { $0.rounded(.toNearestOrEven) }.reversed().dropLast())
        case .leading:
            let ratio = last / (steps + 1)
            ts = Array((0...steps).map { Double($0 * ratio + stepsOffset) }.reversed().dropLast())
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            let count = Int((Double(last) / ratio).rounded(.up))
            ts = (0..<count).map { (Double(last) - Double($0) * ratio).rounded(.toNearestOrEven) - 1 }
        }
        var sigmas = ts.map { sigma(atTimestep: $0) }
        let (fullMin, fullMax) = (Double(self.sigmas[0]), Double(self.sigmas[trainSteps - 1]))
        switch schedule {
        case .normal, .simple, .sgmUniform: break
        case .karras:
            let rho = 7.0
            let minInv = pow(fullMin, 1 / rho), maxInv = pow(fullMax, 1 / rho)
            sigmas = numpyLinspace(0, 1, steps).map { pow(maxInv + $0 * (minInv - maxInv), rho) }
            ts = sigmas.map { timestep(forSigma: $0).rounded(.toNearestOrEven) }
        case .exponential:
            sigmas = numpyLinspace(Foundation.log(fullMax), Foundation.log(fullMin), steps).map { Foundation.exp($0) }
            // diffusers stores these timesteps as int64: the interpolated value truncated.
            ts = sigmas.map { timestep(forSigma: $0).rounded(.towardZero) }
        }
        var levels = zip(sigmas, ts).map { NoiseLevel(sigma: Double(Float($0)), timestep: $1) }
        levels.append(NoiseLevel(sigma: 0, timestep: nil))
        return levels
    }
}

extension DiscreteSchedule {
    /// diffusers LCMScheduler.set_timesteps: `steps` indices evenly spread over the distillation schedule
    /// t = k·(N/originalSteps) − 1, k = originalSteps … 1; σ of those training timesteps; final σ = 0.
    public func lcmLevels(steps: Int, originalSteps: Int = 50) -> [NoiseLevel] {
        let k = trainSteps / originalSteps
        let origin = (1...originalSteps).reversed().map { $0 * k - 1 }
        let count = min(steps, originalSteps)
        var levels = (0..<count).map { i -> NoiseLevel in
            let t = origin[Int((Double(i) * Double(origin.count) / Double(count)).rounded(.down))]
            return NoiseLevel(sigma: Double(sigmas[t]), timestep: Double(t))
        }
        levels.append(NoiseLevel(sigma: 0, timestep: nil))
        return levels
    }
}

extension SamplerKind {
    /// `timestep_spacing` of this sampler's diffusers class when a model's config has none (SD 1.x's PNDM config
    /// has none: diffusers then runs Euler & co. with `linspace`, DDIM/PNDM/DDPM/LCM with `leading`).
    public var defaultSpacing: TimestepSpacing {
        [.ddim, .plms, .ddpm, .lcm].contains(self) ? .leading : .linspace
    }

    /// The diffusers scheduler class whose σ and timesteps this sampler follows in a pipeline.
    public var followsDPMSolverSchedule: Bool { [.dpmpp2m, .dpmpp2mSDE, .dpmpp3mSDE, .unipc].contains(self) }

    /// Samplers whose diffusers class works on unit-variance (VP) latents: they start from √(σ_max²+1)·noise in
    /// the σ form.
    var startsFromVPNoise: Bool { followsDPMSolverSchedule || [.ddim, .ddpm, .plms, .lcm].contains(self) }

    /// The noise levels a diffusers pipeline with this sampler's scheduler class would use. `setAlphaToOne` false
    /// (Stable Diffusion's PNDM/DDIM configs) ends PLMS and DDIM at the first training σ instead of 0, as diffusers'
    /// `final_alpha_cumprod` does; the pipeline then decodes those latents as they are.
    public func levels(_ schedule: DiscreteSchedule, steps: Int, sigmas: SigmaSchedule, spacing: TimestepSpacing,
                       stepsOffset: Int, setAlphaToOne: Bool = true) -> [NoiseLevel] {
        if self == .lcm && sigmas == .normal { return schedule.lcmLevels(steps: steps) }
        var levels = followsDPMSolverSchedule
            ? schedule.dpmSolverLevels(steps: steps, schedule: sigmas, spacing: spacing, stepsOffset: stepsOffset)
            : schedule.noiseLevels(steps: steps, schedule: sigmas, spacing: spacing, stepsOffset: stepsOffset)
        if !setAlphaToOne, self == .plms || self == .ddim {
            levels[levels.count - 1] = NoiseLevel(sigma: Double(schedule.sigmas[0]), timestep: nil)
        }
        return levels
    }

    /// Initial noise scale in the σ form samplers use: VP-based schedulers (DPM-Solver, UniPC, DDIM, DDPM, PNDM,
    /// LCM) start from unit-variance VP noise, i.e. √(σ_max²+1); Euler-family ones follow `initialNoiseSigma(spacing:)`.
    public func initialNoiseSigma(_ levels: [NoiseLevel], spacing: TimestepSpacing) -> Float {
        if startsFromVPNoise {
            let s = Float(levels[0].sigma)
            return (s * s + 1).squareRoot()
        }
        return levels.initialNoiseSigma(spacing: spacing)
    }
}
