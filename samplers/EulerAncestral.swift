import Foundation
import Tensor

/// σ_down, σ_up of an ancestral step from σ to σ_next (eta = 1), in float32 as diffusers computes them.
/// k-diffusion `get_ancestral_step`.
func ancestralStep(from sigma: Float, to next: Float) -> (down: Float, up: Float) {
    let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
    let down = (next * next - up * up).squareRoot()
    return (down, up)
}

/// Euler ancestral: an Euler step to σ_down, then fresh noise of σ_up. k-diffusion `sample_euler_ancestral`;
/// diffusers EulerAncestralDiscreteScheduler (its noise drawn with the pipeline's generator after each step).
func sampleEulerAncestral(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                          callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        let sigma = Float(levels[i].sigma), next = Float(levels[i + 1].sigma)
        let (down, up) = ancestralStep(from: sigma, to: next)
        x = eulerStep(x, denoised, sigma: sigma, to: down)
        let n = noise(x.shape)
        x = Tensor.zip(x, n) { $0 + $1 * up }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
