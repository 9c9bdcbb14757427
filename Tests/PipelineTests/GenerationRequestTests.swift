import Foundation
import Pipeline
import Testing

/// A1111's `parameters` text: field names, order and spellings as A1111 writes them (so its PNG Info, civitai and
/// other readers parse ours).
@Suite struct GenerationRequestTests {
    @Test func a1111ParametersText() throws {
        var r = GenerationRequest(prompt: "a lighthouse, (storm:1.2)")
        r.negativePrompt = "blurry"
        r.steps = 25
        r.cfgScale = 7.5
        r.sampler = "dpmpp_2m_sde"
        r.schedule = "sgm_uniform"
        r.seed = 1234
        r.width = 512
        r.height = 768
        r.rng = "philox"
        let text = r.a1111Parameters(samplerName: "DPM++ 2M SDE", modelName: "v1-5-pruned-emaonly", modelHash: "6ce0161689")
        #expect(text == """
            a lighthouse, (storm:1.2)
            Negative prompt: blurry
            Steps: 25, Sampler: DPM++ 2M SDE, Schedule type: SGM Uniform, CFG scale: 7.5, Seed: 1234, Size: 512x768, \
            Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, RNG: NV
            """)
        r.rng = "torch"
        r.negativePrompt = ""
        r.schedule = "karras"
        let plain = r.a1111Parameters(samplerName: "Euler", modelName: "m")
        #expect(!plain.contains("Negative prompt") && !plain.contains("Model hash") && plain.hasSuffix("Schedule type: Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, Model: m, RNG: CPU"), "\(plain)")
        r.rng = "mt"
        #expect(throws: PipelineError.self) { try r.validate() }
    }
}
