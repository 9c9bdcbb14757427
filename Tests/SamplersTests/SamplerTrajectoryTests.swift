import Foundation
import Samplers
import Testing
import Tensor
import TestSupport

/// Whole trajectories against diffusers' schedulers, on a closed-form model (x0 ~ N(mu, s²) elementwise, whose
/// exact ε / v prediction is known), same seed for the initial and ancestral noise.
@Suite struct SamplerTrajectoryTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("samplers.safetensors") }

    func exactModel(_ schedule: DiscreteSchedule, mu: Tensor, std: Double, prediction: PredictionType)
        -> (Tensor, Double) -> Tensor {
        { x, t in
            let sigma = schedule.sigma(atTimestep: t)
            let a = 1 / (1 + sigma * sigma)
            let gain = a.squareRoot() * std * std / (a * std * std + 1 - a)
            return Tensor.zip(x, mu) { xf, mf in
                let (xd, md) = (Double(xf), Double(mf))
                let x0 = md + gain * (xd - a.squareRoot() * md)
                let eps = (xd - a.squareRoot() * x0) / (1 - a).squareRoot()
                return Float(prediction == .epsilon ? eps : a.squareRoot() * eps - (1 - a).squareRoot() * x0)
            }
        }
    }

    /// Runs `sampler` on the closed-form model from the seed-1234 initial noise and returns every step's latents.
    func trajectory(_ sampler: SamplerKind, levels: [NoiseLevel], schedule: DiscreteSchedule, prediction: PredictionType,
                    eta: Float = 0) throws -> [Tensor] {
        let std = try JSONDecoder().decode(Double.self, from: Data(fx.file.metadata["data_std"]!.utf8))
        let denoiser = DiscreteModelDenoiser(schedule: schedule, prediction: prediction,
                                             model: exactModel(schedule, mu: try fx.file.tensor("mu"), std: std, prediction: prediction))
        var generator = TorchGenerator(seed: 1234)
        let x0 = generator.randn([1, 4, 8, 8]).scaled(levels.initialNoiseSigma(spacing: .leading))
        var trajectory = [x0]
        _ = try sampler.sample(denoiser, x0, levels: levels, noise: { generator.randn($0) }, eta: eta) { _, _, x, _ in
            trajectory.append(x)
            return true
        }
        return trajectory
    }

    static let cases: [(String, String, String)] = ["euler", "euler_a", "heun", "dpmpp_2m", "lms"].flatMap { s in
        ["normal", "karras", "exponential"].flatMap { c in ["epsilon", "v_prediction"].map { (s, c, $0) } }
    }

    @Test(arguments: cases)
    func trajectoryMatchesDiffusers(_ c: (String, String, String)) throws {
        let (samplerName, scheduleName, predictionName) = c
        let want = try fx.file.tensor("traj.\(samplerName).\(scheduleName).\(predictionName)")
        let steps = want.shape[0] - 1
        let schedule = DiscreteSchedule()
        let levels = schedule.noiseLevels(steps: steps, schedule: SigmaSchedule(rawValue: scheduleName)!, spacing: .leading, stepsOffset: 1)
        let trajectory = try trajectory(try SamplerKind(slug: samplerName), levels: levels, schedule: schedule,
                                        prediction: PredictionType(rawValue: predictionName)!)
        #expect(trajectory.count == steps + 1)
        for (i, x) in trajectory.enumerated() {
            let error = scaledMaxError(x, want.selected(0, i))
            // Whole trajectory ≤ 1e-5 relative (issue 4).
            #expect(error <= 1e-5, "\(samplerName) \(scheduleName) \(predictionName) step \(i)")
        }
    }

    /// DDIM with η = 0 and η = 1 against diffusers' DDIMScheduler (its noise from the same generator).
    @Test(arguments: ["epsilon", "v_prediction"], [Float(0), Float(1)])
    func ddimMatchesDiffusers(_ predictionName: String, _ eta: Float) throws {
        let want = try fx.file.tensor("traj.ddim\(eta == 0 ? "0" : "1").normal.\(predictionName)")
        let schedule = DiscreteSchedule()
        let levels = schedule.noiseLevels(steps: want.shape[0] - 1, schedule: .normal, spacing: .leading, stepsOffset: 1)
        let trajectory = try trajectory(.ddim, levels: levels, schedule: schedule, prediction: PredictionType(rawValue: predictionName)!,
                                        eta: eta)
        for (i, x) in trajectory.enumerated() {
            let error = scaledMaxError(x, want.selected(0, i))
            #expect(error <= 1e-5, "ddim η=\(eta) \(predictionName) step \(i)")
        }
    }

    @Test func cancellationStopsWithinOneStep() throws {
        let schedule = DiscreteSchedule()
        let denoiser = DiscreteModelDenoiser(schedule: schedule, prediction: .epsilon) { x, _ in x.map { _ in 0 } }
        let levels = schedule.noiseLevels(steps: 10)
        var calls = 0
        #expect(throws: SamplerError.cancelled(afterStep: 2)) {
            try SamplerKind.euler.sample(denoiser, Tensor.zeros([1, 4, 2, 2]), levels: levels, noise: { Tensor.zeros($0) }) { i, _, _, _ in
                calls += 1
                return i < 2
            }
        }
        #expect(calls == 3)
        #expect(throws: SamplerError.unknownSampler("k_euler")) { try SamplerKind(slug: "k_euler") }
    }
}
