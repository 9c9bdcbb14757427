import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct CLIPVisionModelTests {
    /// A small random transformers CLIPVisionModelWithProjection: image embeddings within 1e-4 of their scale.
    @Test func imageEmbedsMatchTransformers() throws {
        let folder = Fixtures.path("default_model/clip_vision_tiny")
        let model = try CLIPVisionModel(config: CLIPVisionConfig.load(folder + "/config.json"),
                                        weights: try SafetensorsFile(path: folder + "/model.safetensors"))
        let expected = try FixtureFile("default_model/clip_vision_tiny/expected.safetensors")
        let embeds = try model.imageEmbeds(try expected.file.tensor("pixel_values"))
        let error = scaledMaxError(embeds, try expected.file.tensor("image_embeds"))
        #expect(error <= 1e-4, "\(error)")
        #expect(throws: ModelError.self) { try model.imageEmbeds(Tensor.zeros([1, 3, 16, 16])) }
    }
}
