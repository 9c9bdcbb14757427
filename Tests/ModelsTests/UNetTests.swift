import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct UNetTests {
    func load(_ name: String, file: String = "diffusion_pytorch_model.safetensors") throws -> UNet2DConditionModel {
        let folder = Fixtures.path("models/\(name)")
        return try UNet2DConditionModel(config: try UNetConfig.load(folder + "/config.json"),
                                        weights: try SafetensorsFile(path: folder + "/" + file))
    }

    /// SD1-style (conv projections, fp32), SD2-style (linear projections, per-block heads, fp16 variant
    /// file), the 9-channel inpainting U-Net, and attention at every level with 7 input channels (the default model's
    /// attn32 variant); square latents and a 6×5 latent that no power of two divides.
    @Test(arguments: [("unet_sd1", "diffusion_pytorch_model.safetensors"),
                      ("unet_sd2", "diffusion_pytorch_model.fp16.safetensors"),
                      ("unet_inpaint", "diffusion_pytorch_model.safetensors"),
                      ("unet_attn_all", "diffusion_pytorch_model.safetensors")])
    func outputMatchesDiffusers(_ name: String, _ file: String) throws {
        let unet = try load(name, file: file)
        try forEachCase(name) { c, predict, expected in
            // U-Net output ≤ 1e-3 relative (issue 5).
            #expect(scaledMaxError(predict(unet), expected) <= 1e-3, "\(name) \(c)")
        }
        #expect(unet.inChannels == ["unet_inpaint": 9, "unet_attn_all": 7][name, default: 4])
    }

    /// Cross-attention keys and values are computed once per context and reused across calls (a sampler's steps): a
    /// second call with the same context gives the first call's output bit for bit; a context changed in place, or
    /// another context, is recomputed (a fresh U-Net gives the same output); fixture tolerance still holds after both.
    @Test func crossAttentionContextReuse() throws {
        let expected = try FixtureFile("models/unet_sd1/expected.safetensors")
        let x = try expected.tensor("square", "x"), t = try expected.tensor("square", "timestep").toArray()
        let ctx = try expected.tensor("square", "context").copy()
        let unet = try load("unet_sd1")
        let first = unet.predict(x, timesteps: t, context: ctx)
        #expect(scaledMaxError(first, try expected.tensor("square", "out")) <= 1e-3)
        #expect(unet.predict(x, timesteps: t, context: ctx).maxAbsDifference(first) == 0)
        ctx.pointer[3] += 0.5  // same tensor, new value
        let changed = unet.predict(x, timesteps: t, context: ctx)
        let fresh = try load("unet_sd1").predict(x, timesteps: t, context: ctx)
        // Recomputed: as the fresh U-Net, to rounding (other tests running in this process may switch OpenBLAS's
        // process-wide thread count between the two runs: one CI run measured 6.9e-7), against a change of the size
        // a stale cache would leave (then `changed` would equal `first`).
        let change = changed.maxAbsDifference(first)
        #expect(change > 0)
        #expect(changed.maxAbsDifference(fresh) <= 1e-3 * change, "\(changed.maxAbsDifference(fresh)) vs \(change)")
        let other = try expected.tensor("odd", "context")
        let ox = try expected.tensor("odd", "x"), ot = try expected.tensor("odd", "timestep").toArray()
        #expect(scaledMaxError(unet.predict(ox, timesteps: ot, context: other), try expected.tensor("odd", "out")) <= 1e-3)
        if BF16Compute.available {
            // Switching to bf16 with the same context recomputes on that path, and back to fp32 reuses fp32's.
            let bf16 = BF16Compute.with(true) { unet.predict(x, timesteps: t, context: ctx) }
            let freshBF16 = try BF16Compute.with(true) { try load("unet_sd1").predict(x, timesteps: t, context: ctx) }
            #expect(bf16.maxAbsDifference(freshBF16) <= 1e-3 * change)
            #expect(unet.predict(x, timesteps: t, context: ctx).maxAbsDifference(fresh) <= 1e-3 * change)
        }
    }

    /// One latent under a context of two rows (a CFG step as the pipeline makes it) computes the layers before the
    /// first cross-attention once: the result is that of the latent repeated from the start (torch's own CFG batch) to
    /// rounding, each row is that row's context alone, the FLOP count stays the direct computation's, and the rows
    /// differ (the contexts do). For SD1-style (attention in the first block), inpainting and attention-everywhere U-Nets.
    @Test(arguments: ["unet_sd1", "unet_inpaint", "unet_attn_all"])
    func sharedLatentsAcrossContextRows(_ name: String) throws {
        let expected = try FixtureFile("models/\(name)/expected.safetensors")
        let unet = try load(name)
        for c in ["square", "odd"] {
            let x = try expected.tensor(c, "x").narrowed(0, start: 0, length: 1).contiguous()
            let t = [try expected.tensor(c, "timestep").toArray()[0]]
            let one = try expected.tensor(c, "context").narrowed(0, start: 0, length: 1).contiguous()
            let context = Tensor.concat([one.map { $0 * 0.5 }, one], dim: 0)
            var flops = (shared: 0, repeated: 0)
            var shared = Tensor.zeros([1]), repeated = Tensor.zeros([1])
            flops.shared = FLOPCounter.count { shared = unet.predict(x, timesteps: t, context: context) }
            flops.repeated = FLOPCounter.count {
                repeated = UNet2DConditionModel.withSharedLatents(false) { unet.predict(x, timesteps: t, context: context) }
            }
            let direct = unet.predict(Tensor.concat([x, x], dim: 0), timesteps: t + t, context: context)
            #expect(shared.shape == direct.shape && shared.shape[0] == 2)
            #expect(flops.shared == flops.repeated && flops.shared > 0, "\(name) \(c): \(flops)")
            // Rounding only: the same products on half as many rows (GEMM blocking may differ) — 1e-5 of the range.
            #expect(scaledMaxError(shared, repeated) <= 1e-5, "\(name) \(c)")
            #expect(scaledMaxError(shared, direct) <= 1e-5, "\(name) \(c)")
            let rows = shared.chunk(2, dim: 0)
            #expect(rows[0].maxAbsDifference(rows[1]) > 1e-3, "\(name) \(c): the two contexts give the same rows")
            let alone = unet.predict(x, timesteps: t, context: one)
            #expect(scaledMaxError(rows[1].contiguous(), alone) <= 1e-5, "\(name) \(c)")
        }
    }

    /// Each fixture case of a U-Net: its name, the prediction for its inputs, diffusers' output.
    func forEachCase(_ name: String, _ body: (String, (UNet2DConditionModel) -> Tensor, Tensor) throws -> Void) throws {
        let expected = try FixtureFile("models/\(name)/expected.safetensors")
        for c in ["square", "odd"] {
            let x = try expected.tensor(c, "x"), ctx = try expected.tensor(c, "context")
            let t = try expected.tensor(c, "timestep").toArray()
            try body(c, { $0.predict(x, timesteps: t, context: ctx) }, try expected.tensor(c, "out"))
        }
    }

    /// The opt-in bf16 path (each kernel the CPU has: AMX, AVX-512-BF16) on the same fixtures: every GEMM's operands rounded to bf16 (2⁻⁸ relative
    /// precision), the rest fp32. Tolerance 2⁻⁵ of the output's range: 8 bf16 steps, for a dozen GEMM layers in series.
    @Test(.enabled(if: BF16Compute.available, "needs AMX or AVX-512-BF16"),
          arguments: [("unet_sd1", "diffusion_pytorch_model.safetensors"),
                      ("unet_sd2", "diffusion_pytorch_model.fp16.safetensors"),
                      ("unet_inpaint", "diffusion_pytorch_model.safetensors")])
    func bf16OutputNearDiffusers(_ name: String, _ file: String) throws {
        let unet = try load(name, file: file)
        try forEachCase(name) { c, predict, expected in
            for kernel in BF16Compute.kernels {
                let out = BF16Compute.using(kernel) { BF16Compute.with(true) { predict(unet) } }
                #expect(scaledMaxError(out, expected) <= 0x1p-5, "\(name) \(c) \(kernel)")
            }
        }
    }
}
