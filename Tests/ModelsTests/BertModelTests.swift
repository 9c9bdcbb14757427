import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct BertModelTests {
    /// A small random-weight transformers BertModel on right-padded rows of different lengths: the last hidden
    /// state (padding positions included) within 1e-4 of the output's scale.
    @Test func hiddenStatesMatchTransformers() throws {
        let folder = Fixtures.path("default_model/bert_tiny")
        let model = try BertModel(config: BertConfig.load(folder + "/config.json"),
                                  weights: try SafetensorsFile(path: folder + "/model.safetensors"))
        let expected = try FixtureFile("default_model/bert_tiny/expected.safetensors")
        let ids = try expected.file.integers("input_ids"), lengths = try expected.file.integers("lengths")
        let n = ids.count / lengths.count
        let rows = (0..<lengths.count).map { Array(ids[($0 * n)..<(($0 + 1) * n)]) }
        let states = try model.encode(rows, lengths: lengths)
        let error = scaledMaxError(states, try expected.file.tensor("states"))
        #expect(error <= 1e-4, "\(error)")
    }

    @Test func tokenOutsideTheVocabularyIsAnError() throws {
        let folder = Fixtures.path("default_model/bert_tiny")
        let model = try BertModel(config: BertConfig.load(folder + "/config.json"),
                                  weights: try SafetensorsFile(path: folder + "/model.safetensors"))
        #expect(throws: ModelError.self) { try model.encode([[1, 500]], lengths: [2]) }
    }
}
