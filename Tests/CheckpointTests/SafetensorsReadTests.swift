import Checkpoint
import Foundation
import Testing
import Tensor
import TestSupport

@Suite struct SafetensorsReadTests {
    @Test func readsEveryDtypeWrittenByTheReferenceLibrary() throws {
        let file = try Fixtures.open("reference.safetensors")
        let expected = try FixtureFile("reference_expected.safetensors")
        #expect(file.metadata["format"] == "pt")
        #expect(Set(file.entries.keys) == ["f32", "f16", "bf16", "i64", "i32", "scalar", "empty"])
        for name in file.entries.keys {
            let t = try file.tensor(name)
            #expect(t.shape == file.entries[name]!.shape)
            #expect(scaledMaxError(t, try expected.tensor("as_f32", name)) == 0, "\(name)")
        }
        #expect(try file.integers("i64") == [-3, -2, -1, 0, 1, 2, 3])
        #expect(try file.integers("i32") == [1, -2, 3, 40000])
        #expect(file.entries["f16"]!.dtype == .f16 && file.entries["bf16"]!.dtype == .bf16)
    }

    @Test func alignedF32IsMappedNotCopied() throws {
        let dir = Fixtures.temporaryFolder()
        let path = dir + "/mapped.safetensors"
        let t = Tensor.randomUniform([64, 32], seed: 9)
        try SafetensorsWriter.write([.init("w", t)], to: path)
        let file = try SafetensorsFile(path: path)
        let loaded = try file.tensor("w")
        #expect(loaded.storage.isBorrowed)
        #expect(loaded.toArray() == t.toArray())
    }

    @Test func writerRoundTripsAllFloatDtypesAndMetadata() throws {
        let dir = Fixtures.temporaryFolder()
        let path = dir + "/roundtrip.safetensors"
        let t = Tensor.randomUniform([3, 5], seed: 4, scale: 10)
        try SafetensorsWriter.write([.init("a.f32", t), .init("b.f16", t, dtype: .f16), .init("c.bf16", t, dtype: .bf16),
                                     .init("d.ids", Tensor([1, 2, 300], shape: [3]), dtype: .i64)],
                                    metadata: ["quote\"key": "line\nbreak"], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata["quote\"key"] == "line\nbreak")
        #expect(try file.tensor("a.f32").toArray() == t.toArray())
        #expect(try file.tensor("b.f16").toArray() == t.toArray().map { halfToFloat(floatToHalf($0)) })
        #expect(try file.tensor("c.bf16").toArray() == t.toArray().map { bfloat16ToFloat(floatToBfloat16($0)) })
        #expect(try file.integers("d.ids") == [1, 2, 300])
        #expect(file.names == ["a.f32", "b.f16", "c.bf16", "d.ids"])
    }

    @Test func missingTensorNamesFileAndTensor() throws {
        let file = try Fixtures.open("reference.safetensors")
        #expect(throws: CheckpointError.missingTensor(path: file.path, tensor: "nope")) { try file.tensor("nope") }
    }
}
