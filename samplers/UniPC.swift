import Foundation
import Tensor

/// UniPC (Zhao et al. 2023, arXiv:2302.04867), B(h) = e^h − 1 ("bh2"), data prediction: a multistep predictor
/// (UniP) and a corrector (UniC) that reuses the model evaluation at the predicted point, so one model call per
/// step; order 2 by default, lowered on the first steps and at the end (lower_order_final). The predictor's
/// result is what each step reports; the corrector refines it when the next step begins.
/// diffusers UniPCMultistepScheduler (solver_type "bh2", predict_x0); in σ form x_t = σ_t/σ_s·x − expm1(−h)·D − B(h)·Σρ·D1.
func sampleUniPC(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], order solverOrder: Int = 2,
                 callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    let lambdas = levels.map { -Foundation.log($0.sigma) }   // λ = log α − log σ_VP = −log σ
    var outputs: [Tensor] = []                               // denoised estimates, newest last
    var lastSample: Tensor?
    var order = 1, warmed = 0
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        if i > 0, let last = lastSample {
            // UniC: from the sample at level i−1 to level i, with the new estimate.
            let m = uniCoefficients(lambdas, at: i, from: i - 1, order: order, corrector: true)
            x = uniUpdate(last, sigmaRatio: levels[i].sigma / levels[i - 1].sigma, m: m, outputs: outputs, newest: denoised)
        }
        outputs.append(denoised)
        if outputs.count > solverOrder { outputs.removeFirst() }
        order = min(solverOrder, steps - i, warmed + 1)
        lastSample = x
        if levels[i + 1].sigma == 0 && order == 1 {
            x = denoised
        } else {
            let m = uniCoefficients(lambdas, at: i + 1, from: i, order: order, corrector: false)
            x = uniUpdate(x, sigmaRatio: levels[i + 1].sigma / levels[i].sigma, m: m, outputs: outputs, newest: nil)
        }
        warmed = min(warmed + 1, solverOrder)
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}

/// The scalars of one UniP/UniC update from level s to level t: h·φ₁ = expm1(−h), B(h), and the weights ρ of the
/// divided differences D1_k = (D_{s−k} − D_s)/r_k (predictor: k = 1 … order−1; corrector: the same plus the new
/// estimate, whose r = 1 is last).
struct UniCoefficients {
    var phi1: Double
    var bh: Double
    var rks: [Double]
    var rhos: [Double]
}

func uniCoefficients(_ lambdas: [Double], at t: Int, from s: Int, order: Int, corrector: Bool) -> UniCoefficients {
    let h = lambdas[t] - lambdas[s]
    // Previous points: s−1, s−2, … (the predictor's), their r relative to h.
    let rks = (1..<max(order, 1)).map { (lambdas[s - $0] - lambdas[s]) / h }
    let hh = -h
    let phi1 = Foundation.expm1(hh)
    let bh = Foundation.expm1(hh)
    var hPhiK = phi1 / hh - 1, factorial = 1.0
    let all = rks + [1]
    var r: [[Double]] = [], b: [Double] = []
    for k in 1...order {
        r.append(all.map { pow($0, Double(k - 1)) })
        b.append(hPhiK * factorial / bh)
        factorial *= Double(k + 1)
        hPhiK = hPhiK / hh - 1 / factorial
    }
    var rhos: [Double]
    if corrector {
        rhos = order == 1 ? [0.5] : solveLinear(r, b)
    } else if rks.isEmpty {
        rhos = []
    } else {
        rhos = order == 2 ? [0.5] : solveLinear(Array(r.dropLast().map { Array($0.dropLast()) }), Array(b.dropLast()))
    }
    return UniCoefficients(phi1: phi1, bh: bh, rks: rks, rhos: rhos)
}

/// x_t = ratio·x − expm1(−h)·D_s − B(h)·(Σ_k ρ_k·D1_k [+ ρ_last·(D_new − D_s)]) in σ form.
func uniUpdate(_ x: Tensor, sigmaRatio: Double, m: UniCoefficients, outputs: [Tensor], newest: Tensor?) -> Tensor {
    // With a new estimate (corrector) the stored outputs exclude it: D_s is the last one before it.
    let history = outputs
    let m0 = history[history.count - 1]
    var result = Tensor.zip(x, m0) { Float(sigmaRatio) * $0 - Float(m.phi1) * $1 }
    var residual: Tensor?
    for (k, rk) in m.rks.enumerated() {
        let mk = history[history.count - 2 - k]
        let weight = Float(m.rhos[k] / rk)
        let term = Tensor.zip(mk, m0) { weight * ($0 - $1) }
        residual = residual.map { $0 + term } ?? term
    }
    if let newest {
        let weight = Float(m.rhos[m.rhos.count - 1])
        let term = Tensor.zip(newest, m0) { weight * ($0 - $1) }
        residual = residual.map { $0 + term } ?? term
    }
    if let residual {
        let bh = Float(m.bh)
        result = Tensor.zip(result, residual) { $0 - bh * $1 }
    }
    return result
}

/// Gaussian elimination with partial pivoting for the tiny (≤ 3×3) systems UniPC solves.
func solveLinear(_ a: [[Double]], _ b: [Double]) -> [Double] {
    var m = a, v = b
    let n = v.count
    for c in 0..<n {
        let p = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
        m.swapAt(c, p)
        v.swapAt(c, p)
        for r in (c + 1)..<n {
            let f = m[r][c] / m[c][c]
            for k in c..<n { m[r][k] -= f * m[c][k] }
            v[r] -= f * v[c]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for r in stride(from: n - 1, through: 0, by: -1) {
        x[r] = (v[r] - ((r + 1)..<n).reduce(0) { $0 + m[r][$1] * x[$1] }) / m[r][r]
    }
    return x
}
