import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct CLIPTextModelTests {
    /// SD1-style (quick-GELU, fp32) and SD2-style (GELU, stored as bf16) text encoders, in both key layouts.
    @Test(arguments: ["clip_sd1", "clip_sd2"], ["model.safetensors", "model_prefixed.safetensors"])
    func hiddenStatesMatchTransformers(_ name: String, _ file: String) throws {
        let folder = Fixtures.path("models/\(name)")
        let config = try CLIPTextConfig.load(folder + "/config.json")
        let model = try CLIPTextModel(config: config, weights: try SafetensorsFile(path: folder + "/" + file))
        let expected = try FixtureFile("models/\(name)/expected.safetensors")
        let ids = try expected.file.integers("input_ids")
        let rows = [Array(ids[0..<77]), Array(ids[77..<154])]
        // fp32 hidden states: max abs error ≤ 1e-4 (issue 5), measured relative to the output's scale.
        #expect(scaledMaxError(try model.encode(rows, clipSkip: 1), try expected.file.tensor("last_hidden_state")) <= 1e-4)
        #expect(scaledMaxError(try model.encode(rows, clipSkip: 2), try expected.file.tensor("clip_skip2")) <= 1e-4)
    }

    @Test func missingKeyNamesFileAndKey() throws {
        let folder = Fixtures.path("models/clip_sd1")
        var config = try CLIPTextConfig.load(folder + "/config.json")
        config.numHiddenLayers += 1
        let path = folder + "/model.safetensors"
        #expect(throws: ModelError.missingWeight(location: path, key: "encoder.layers.3.self_attn.q_proj.weight")) {
            try CLIPTextModel(config: config, weights: try SafetensorsFile(path: path))
        }
        config.numHiddenLayers -= 1
        config.hiddenSize = 32
        #expect(throws: ModelError.wrongShape(location: path, key: "embeddings.token_embedding.weight", expected: [1000, 32], actual: [1000, 64])) {
            try CLIPTextModel(config: config, weights: try SafetensorsFile(path: path))
        }
    }
}
