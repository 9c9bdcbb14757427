import Models
import Testing
import Tensor

@Suite struct LatentPreviewTests {
    @Test func previewIsTheLinearMapShiftedIntoUnitRange() {
        let latents = Tensor.randomUniform([2, 4, 3, 5], seed: 3, scale: 0.5)
        let rgb = LatentPreview.rgb(latents)
        #expect(rgb.shape == [2, 3, 3, 5])
        // Each output is (Σ_c latent_c · factor_c + 1) / 2 for that pixel; checked against a matmul of the same factors.
        let flat = latents.permuted([0, 2, 3, 1]).reshaped([-1, 4])
        let mapped = Tensor.matmul(flat, Tensor(LatentPreview.sd15Factors.flatMap { $0 }, shape: [4, 3]))
            .reshaped([2, 3, 5, 3]).permuted([0, 3, 1, 2]).map { min(max(($0 + 1) / 2, 0), 1) }
        for (a, b) in zip(rgb.toArray(), mapped.toArray()) { #expect(abs(a - b) <= 1e-6) }
        // Extreme latents clamp into [0, 1].
        let loud = LatentPreview.rgb(Tensor.full([1, 4, 2, 2], 50))
        #expect(loud.toArray().allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
