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
