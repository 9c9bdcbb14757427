import Foundation

/// The training noise schedule of a discrete-time (DDPM) model: betas → ᾱ (alphas_cumprod) → σ = √((1−ᾱ)/ᾱ),
/// computed in the precision diffusers uses so that its timesteps and sigmas come out identical.
/// Reference: diffusers schedulers (betas from torch.linspace in float32, torch.cumprod, numpy float32 σ).
public struct DiscreteSchedule: Sendable {
    public enum BetaSchedule: String, Sendable, Decodable {
        case scaledLinear = "scaled_linear"
        case linear
    }

    public let alphasCumprod: [Float]
    /// σ for t = 0 ..< trainSteps (float32, as numpy computes it from the float32 ᾱ).
    public let sigmas: [Float]
    public let logSigmas: [Float]

    public var trainSteps: Int { alphasCumprod.count }

    public init(betaStart: Double = 0.00085, betaEnd: Double = 0.012, schedule: BetaSchedule = .scaledLinear,
                trainSteps: Int = 1000, rescaleZeroTerminalSNR: Bool = false) {
        var betas: [Float]
        switch schedule {
        case .scaledLinear:
            betas = torchLinspace(Float(betaStart.squareRoot()), Float(betaEnd.squareRoot()), trainSteps).map { $0 * $0 }
        case .linear:
            betas = torchLinspace(Float(betaStart), Float(betaEnd), trainSteps)
        }
        var cumprod = cumulativeProduct(betas.map { 1 - $0 })
        if rescaleZeroTerminalSNR {
            cumprod = rescaledZeroTerminalSNR(cumprod)
            // diffusers then sets ᾱ_T to 2^-24 so that σ_T stays finite.
            cumprod[cumprod.count - 1] = Float(pow(2.0, -24.0))
        }
        alphasCumprod = cumprod
        // IEEE square root. torch's vectorised sqrt is not always correctly rounded (on this machine 6 of the 1000
        // SD training σ come out 1 ulp away), so σ arrays agree with diffusers to ≤ 1 ulp, bit-exact elsewhere.
        sigmas = cumprod.map { ((1 - $0) / $0).squareRoot() }
        logSigmas = sigmas.map { Foundation.log($0) }
    }

    /// diffusers `_sigma_to_t`: the (fractional) timestep whose log σ linearly interpolates to log σ.
    public func timestep(forSigma sigma: Double) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        // low index: the last t with log_sigmas[t] <= log σ (cumsum(dists >= 0).argmax), clipped to n-2.
        var count = 0
        for l in logSigmas where logSigma - Double(l) >= 0 { count += 1 }
        let low = min(max(count - 1, 0), logSigmas.count - 2)
        let lo = Double(logSigmas[low]), hi = Double(logSigmas[low + 1])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    /// σ at a fractional timestep by linear interpolation of σ (numpy interp over t = 0, 1, …), as diffusers
    /// computes the σ of each inference timestep.
    public func sigma(atTimestep t: Double) -> Double {
        numpyInterp(t, sigmas)
    }
}

/// numpy.interp over xp = 0, 1, 2, … (float32 table, float64 arithmetic, as numpy promotes).
func numpyInterp(_ x: Double, _ fp: [Float]) -> Double {
    if x <= 0 { return Double(fp[0]) }
    if x >= Double(fp.count - 1) { return Double(fp[fp.count - 1]) }
    let j = Int(x.rounded(.down))
    if Double(j) == x { return Double(fp[j]) }
    let slope = Double(fp[j + 1]) - Double(fp[j])
    return slope * (x - Double(j)) + Double(fp[j])
}

/// torch.linspace for float32 (ATen's kernel: step in float; the first half start + step·i, the second half
/// end − step·(n−1−i), each a fused multiply-add as its vectorised loop computes them).
func torchLinspace(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
    guard steps > 1 else { return steps == 1 ? [start] : [] }
    let step = (end - start) / Float(steps - 1)
    let halfway = steps / 2
    return (0..<steps).map { i in
        i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(steps - i - 1))
    }
}

/// torch.cumprod on float32: accumulated in double, each prefix stored as float32.
func cumulativeProduct(_ values: [Float]) -> [Float] {
    var running = 1.0
    return values.map { running *= Double($0); return Float(running) }
}

/// diffusers rescale_zero_terminal_snr (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed").
func rescaledZeroTerminalSNR(_ alphasCumprod: [Float]) -> [Float] {
    var sqrtBar = alphasCumprod.map { $0.squareRoot() }
    let first = sqrtBar[0], last = sqrtBar[sqrtBar.count - 1]
    sqrtBar = sqrtBar.map { ($0 - last) * (first / (first - last)) }
    return sqrtBar.map { $0 * $0 }
}
