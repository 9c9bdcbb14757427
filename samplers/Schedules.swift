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
        let ts = timesteps(steps: steps, spacing: spacing, stepsOffset: stepsOffset)
        var sigmas = ts.map { sigma(atTimestep: $0) }
        var times: [Double] = ts
        switch schedule {
        case .normal: break
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
        case .normal: break
        case .karras:
            let rho = 7.0
            let minInv = pow(fullMin, 1 / rho), maxInv = pow(fullMax, 1 / rho)
            sigmas = numpyLinspace(0, 1, steps).map { pow(maxInv + $0 * (minInv - maxInv), rho) }
            ts = sigmas.map { timestep(forSigma: $0).rounded(.toNearestOrEven) }
        case .exponential:
            sigmas = numpyLinspace(Foundation.log(fullMax), Foundation.log(fullMin), steps).map { Foundation.exp($0) }
            ts = sigmas.map { timestep(forSigma: $0) }
        }
        var levels = zip(sigmas, ts).map { NoiseLevel(sigma: Double(Float($0)), timestep: $1) }
        levels.append(NoiseLevel(sigma: 0, timestep: nil))
        return levels
    }
}

extension SamplerKind {
    /// The diffusers scheduler class whose σ and timesteps this sampler follows in a pipeline.
    public var followsDPMSolverSchedule: Bool { self == .dpmpp2m }

    /// The noise levels a diffusers pipeline with this sampler's scheduler class would use.
    public func levels(_ schedule: DiscreteSchedule, steps: Int, sigmas: SigmaSchedule, spacing: TimestepSpacing,
                       stepsOffset: Int) -> [NoiseLevel] {
        followsDPMSolverSchedule
            ? schedule.dpmSolverLevels(steps: steps, schedule: sigmas, spacing: spacing, stepsOffset: stepsOffset)
            : schedule.noiseLevels(steps: steps, schedule: sigmas, spacing: spacing, stepsOffset: stepsOffset)
    }

    /// Initial noise scale in the VE form samplers use: VP-based schedulers (DPM-Solver, DDIM) start from
    /// unit-variance VP noise, i.e. √(σ_max²+1); Euler-family ones follow `initialNoiseSigma(spacing:)`.
    public func initialNoiseSigma(_ levels: [NoiseLevel], spacing: TimestepSpacing) -> Float {
        if followsDPMSolverSchedule || self == .ddim {
            let s = Float(levels[0].sigma)
            return (s * s + 1).squareRoot()
        }
        return levels.initialNoiseSigma(spacing: spacing)
    }
}
