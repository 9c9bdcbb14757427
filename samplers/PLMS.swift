import Tensor

/// PLMS / PNDM (Liu et al. 2022, arXiv:2202.09778, pseudo linear multistep, Adams–Bashforth on ε) as diffusers
/// runs it with `skip_prk_steps`: the first step is a Heun pair (ε averaged over both ends), then orders 2, 3, 4
/// with fixed coefficients. PNDM's transfer is DDIM's update, which in σ form is x + (σ_next − σ)·ε.
/// diffusers PNDMScheduler; ε = (x − denoised)/σ, so v-prediction models combine ε as CompVis/SD2's PLMS does.
func samplePLMS(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], callback: SamplerCallback?,
                afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    var history: [Tensor] = []   // ε of the last steps, newest last
    func epsilon(_ x: Tensor, _ denoised: Tensor, _ sigma: Float) -> Tensor { (x - denoised).map { $0 / sigma } }
    for i in 0..<steps {
        let sigma = Float(levels[i].sigma), dt = Float(levels[i + 1].sigma) - sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        let e = epsilon(x, denoised, sigma)
        var combined: Tensor
        if i == 0 && steps > 1 {
            let predicted = Tensor.zip(x, e) { $0 + $1 * dt }
            let next = Float(levels[1].sigma)
            let e1 = epsilon(predicted, try denoiser.denoise(predicted, level: levels[1]), next)
            combined = Tensor.zip(e, e1) { ($0 + $1) / 2 }
        } else {
            combined = e
            switch history.count {
            case 0: break
            case 1: combined = Tensor.zip(e, history[0]) { (3 * $0 - $1) / 2 }
            case 2: combined = (e.scaled(23) - history[1].scaled(16) + history[0].scaled(5)).scaled(1 / 12)
            default:
                let n = history.count
                combined = (e.scaled(55) - history[n - 1].scaled(59) + history[n - 2].scaled(37) - history[n - 3].scaled(9)).scaled(1 / 24)
            }
        }
        history.append(e)
        if history.count > 3 { history.removeFirst() }
        x = Tensor.zip(x, combined) { $0 + $1 * dt }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
