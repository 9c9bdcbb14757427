import Samplers
import Testing
import Tensor
import TestSupport

/// diffusers' EulerDiscreteScheduler timesteps and σ arrays. Timesteps of spaced schedules are exact; σ agree
/// to ≤ 1 ulp because torch's vectorised float32 sqrt is not correctly rounded on every CPU (6 of the 1000
/// training σ differ by 1 ulp here; see DiscreteSchedule).
@Suite struct ScheduleTests {
    /// Largest difference in units in the last place between equal-length float arrays.
    func ulps(_ a: [Float], _ b: [Float]) -> Int {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        return zip(a, b).map { abs(Int(Int32(bitPattern: $0.bitPattern)) - Int(Int32(bitPattern: $1.bitPattern))) }.max() ?? 0
    }

    let fx: FixtureFile
    init() throws { fx = try FixtureFile("samplers.safetensors") }

    @Test(arguments: [("leading", 1), ("leading", 0), ("trailing", 0), ("linspace", 0)], [1, 2, 20, 50, 1000])
    func spacedTimestepsAndSigmas(_ spacing: (String, Int), _ steps: Int) throws {
        let schedule = DiscreteSchedule()
        let kind = TimestepSpacing(rawValue: spacing.0)!
        let levels = schedule.noiseLevels(steps: steps, schedule: .normal, spacing: kind, stepsOffset: spacing.1)
        let key = "schedule.\(spacing.0)\(spacing.1).\(steps)"
        #expect(levels.dropLast().map { Float($0.timestep!) } == (try fx.file.tensor(key + ".timesteps").toArray()))
        #expect(ulps(levels.map { Float($0.sigma) }, try fx.file.tensor(key + ".sigmas").toArray()) <= 1)
        #expect(ulps([levels.initialNoiseSigma(spacing: kind)], try fx.file.tensor(key + ".init_noise_sigma").toArray()) <= 1)
    }

    @Test(arguments: ["karras", "exponential"], [1, 2, 20, 50])
    func karrasAndExponential(_ name: String, _ steps: Int) throws {
        let levels = DiscreteSchedule().noiseLevels(steps: steps, schedule: SigmaSchedule(rawValue: name)!, spacing: .leading, stepsOffset: 1)
        let key = "schedule.\(name).\(steps)"
        let wantT = try fx.file.tensor(key + ".timesteps").toArray(), wantS = try fx.file.tensor(key + ".sigmas").toArray()
        let gotT = levels.dropLast().map { Float($0.timestep!) }, gotS = levels.map { Float($0.sigma) }
        #expect(ulps(gotS, wantS) <= 1)
        // Timesteps interpolate log σ (of those training σ) in float64, then round to float32: ≤ 1e-6 relative.
        for (a, b) in zip(gotT, wantT) { #expect(abs(a - b) <= 1e-6 * max(b, 1), "\(a) vs \(b)") }
    }

    @Test func zeroTerminalSNRRescale() throws {
        let schedule = DiscreteSchedule(betaStart: 0.0001, betaEnd: 0.02, schedule: .linear, rescaleZeroTerminalSNR: true)
        let want = try fx.file.tensor("schedule.linear_zsnr.alphas_cumprod").toArray()
        let worst = zip(schedule.alphasCumprod, want).map { abs($0 - $1) / max(abs($1), 1e-12) }.max()!
        // ᾱ_T is 2^-24 in both (diffusers keeps σ_T finite); the others agree to float32 rounding of the rescale.
        #expect(schedule.alphasCumprod.last == want.last)
        #expect(worst <= 1e-5)
        let levels = schedule.noiseLevels(steps: 20, schedule: .normal, spacing: .trailing)
        #expect(levels.dropLast().map { Float($0.timestep!) } == (try fx.file.tensor("schedule.linear_zsnr.20.timesteps").toArray()))
        let wantS = try fx.file.tensor("schedule.linear_zsnr.20.sigmas").toArray()
        for (a, b) in zip(levels.map { Float($0.sigma) }, wantS) { #expect(abs(a - b) <= 1e-5 * max(abs(b), 1)) }
    }

    /// A1111's "Simple" and "SGM Uniform" over k-diffusion's discrete schedule.
    @Test(arguments: [1, 2, 20, 50])
    func simpleAndSGMUniform(_ steps: Int) throws {
        let schedule = DiscreteSchedule()
        let simple = schedule.noiseLevels(steps: steps, schedule: .simple)
        #expect(ulps(simple.map { Float($0.sigma) }, try fx.file.tensor("schedule.simple.\(steps).sigmas").toArray()) <= 1)
        let sgm = schedule.noiseLevels(steps: steps, schedule: .sgmUniform)
        let wantT = try fx.file.tensor("schedule.sgm_uniform.\(steps).timesteps").toArray()
        for (a, b) in zip(sgm.dropLast().map { Float($0.timestep!) }, wantT) { #expect(abs(a - b) <= 1e-4, "t \(a) vs \(b)") }
        // k-diffusion interpolates log σ in float32 (its sigma_to_t of σ_max lands within float32 rounding of 999).
        let wantS = try fx.file.tensor("schedule.sgm_uniform.\(steps).sigmas").toArray()
        for (a, b) in zip(sgm.map { Float($0.sigma) }, wantS) { #expect(abs(a - b) <= 2e-6 * max(b, 1e-3), "σ \(a) vs \(b)") }
        // Every sampler sees the same levels with these schedules.
        #expect(SamplerKind.unipc.levels(schedule, steps: steps, sigmas: .sgmUniform, spacing: .leading, stepsOffset: 1) == sgm)
    }

    /// UniPC follows DPM-Solver's spacing (steps + 1 points, Karras/exponential over the full σ range); LCM its
    /// distillation schedule.
    @Test(arguments: [1, 2, 4, 8, 20, 50])
    func uniPCAndLCMLevels(_ steps: Int) throws {
        let schedule = DiscreteSchedule()
        let unipc = SamplerKind.unipc.levels(schedule, steps: steps, sigmas: .normal, spacing: .leading, stepsOffset: 1)
        #expect(unipc.dropLast().map { Float($0.timestep!) } == (try fx.file.tensor("schedule.unipc.\(steps).timesteps").toArray()))
        #expect(ulps(unipc.map { Float($0.sigma) }, try fx.file.tensor("schedule.unipc.\(steps).sigmas").toArray()) <= 1)
        let lcm = SamplerKind.lcm.levels(schedule, steps: steps, sigmas: .normal, spacing: .leading, stepsOffset: 1)
        #expect(lcm.dropLast().map { Float($0.timestep!) } == (try fx.file.tensor("schedule.lcm.\(steps).timesteps").toArray()))
    }

    @Test(arguments: ["karras", "exponential"])
    func uniPCKarrasAndExponential(_ name: String) throws {
        let levels = SamplerKind.unipc.levels(DiscreteSchedule(), steps: 20, sigmas: SigmaSchedule(rawValue: name)!, spacing: .leading, stepsOffset: 1)
        let wantT = try fx.file.tensor("schedule.unipc_\(name).20.timesteps").toArray()
        for (a, b) in zip(levels.dropLast().map { Float($0.timestep!) }, wantT) { #expect(abs(a - b) <= 1e-4 * max(b, 1), "\(a) vs \(b)") }
        #expect(ulps(levels.map { Float($0.sigma) }, try fx.file.tensor("schedule.unipc_\(name).20.sigmas").toArray()) <= 1)
    }
}
