import Checkpoint
import Foundation
import Models
import Testing
import Tensor
import TestSupport

/// The same networks loaded from a single-file (LDM/A1111) checkpoint and from a diffusers folder must
/// give the reference outputs. The single files were written by the fixture script and read back by
/// diffusers' own converters before being saved.
@Suite struct CheckpointLayoutTests {
    func options(heads: [Int]) -> SingleFileOptions {
        // The tiny fixture models have 16-wide text heads and 8 norm groups; real SD uses 64 and 32 (the defaults).
        var o = SingleFileOptions()
        o.unetHeads = heads
        o.textHeadDim = 16
        o.normNumGroups = 8
        return o
    }

    func checkUNet(_ unet: UNet2DConditionModel, _ name: String) throws {
        let fx = try FixtureFile("models/\(name)/expected.safetensors")
        for c in ["square", "odd"] {
            let out = unet.predict(try fx.tensor(c, "x"), timesteps: try fx.tensor(c, "timestep").toArray(), context: try fx.tensor(c, "context"))
            let error = scaledMaxError(out, try fx.tensor(c, "out"))
            #expect(error <= 1e-3, "\(name) \(c)")
        }
    }

    func checkText(_ text: CLIPTextModel, _ name: String) throws {
        let fx = try FixtureFile("models/\(name)/expected.safetensors")
        let ids = try fx.file.integers("input_ids")
        let error = scaledMaxError(try text.encode([Array(ids[0..<77]), Array(ids[77..<154])], clipSkip: 1), try fx.file.tensor("last_hidden_state"))
        #expect(error <= 1e-4, "\(name)")
    }

    func checkVAE(_ vae: AutoencoderKL?) throws {
        let fx = try FixtureFile("models/vae_kl/expected.safetensors")
        let error = scaledMaxError(try #require(vae).decode(try fx.file.tensor("z")), try fx.file.tensor("decoded"))
        #expect(error <= 1e-3)
    }

    @Test func sd1SingleFile() throws {
        let path = Fixtures.path("models/sd1_single.safetensors")
        let arch = try StableDiffusionCheckpoint(singleFile: path).architecture
        #expect(arch.family == "custom (48)" && arch.unetInChannels == 4 && arch.layersPerBlock == 2)
        #expect(arch.unetChannels == [32, 64] && arch.textEncoder == .clip && arch.textLayers == 3 && arch.autoencoder == .kl)
        let m = try StableDiffusionLoader.load(path, options: options(heads: [4, 4]))
        try checkUNet(m.unet, "unet_sd1")
        try checkText(m.textEncoder, "clip_sd1")
        try checkVAE(m.vae)
    }

    @Test func sd2SingleFileInFp16AndBf16() throws {
        let path = Fixtures.path("models/sd2_single_fp16.safetensors")
        let arch = try StableDiffusionCheckpoint(singleFile: path).architecture
        // OpenCLIP: fused q/k/v, and the last of its 5 blocks unused (SD 2.x conditions on the penultimate).
        #expect(arch.textEncoder == .openCLIP && arch.textLayers == 4)
        let m = try StableDiffusionLoader.load(path, options: options(heads: [2, 4]))
        try checkUNet(m.unet, "unet_sd2")
        try checkText(m.textEncoder, "clip_sd2")
        try checkVAE(m.vae)
    }

    @Test func inpaintingSingleFileIsDetected() throws {
        let path = Fixtures.path("models/sd1_inpaint_single.safetensors")
        #expect(try StableDiffusionCheckpoint(singleFile: path).architecture.isInpainting)
        let m = try StableDiffusionLoader.load(path, options: options(heads: [4, 4]))
        #expect(m.unet.inChannels == 9)
        try checkUNet(m.unet, "unet_inpaint")
    }

    /// SD 2.x v-prediction is told apart by ComfyUI's weight-statistic heuristic or a `v_pred` marker key.
    @Test func predictionTypeWhereDetectable() throws {
        let source = try SafetensorsFile(path: Fixtures.path("models/sd2_single_fp16.safetensors"))
        #expect(try StableDiffusionCheckpoint(singleFile: source.path).architecture.predictionType == .epsilon)
        let bias = "model.diffusion_model.output_blocks.5.1.transformer_blocks.0.norm1.bias"
        let dir = Fixtures.temporaryFolder()
        func variant(_ name: String, _ change: ([SafetensorsWriter.Item]) -> [SafetensorsWriter.Item]) throws -> String {
            let items = try source.names.map { SafetensorsWriter.Item($0, try source.tensor($0), dtype: source.entries[$0]!.dtype) }
            try SafetensorsWriter.write(change(items), to: dir + "/" + name)
            return dir + "/" + name
        }
        let spread = try variant("v.safetensors") { items in
            items.map { $0.name == bias ? SafetensorsWriter.Item(bias, $0.tensor.scaled(20), dtype: $0.dtype) : $0 }
        }
        #expect(try StableDiffusionCheckpoint(singleFile: spread).architecture.predictionType == .vPrediction)
        let marked = try variant("marked.safetensors") { $0 + [SafetensorsWriter.Item("v_pred", Tensor.zeros([0]))] }
        #expect(try StableDiffusionCheckpoint(singleFile: marked).architecture.predictionType == .vPrediction)
    }

    @Test func realSizeArchitectureDefaults() {
        var arch = StableDiffusionArchitecture(unetInChannels: 4, contextDim: 1024, unetChannels: [320, 640, 1280, 1280],
                                               layersPerBlock: 2, textEncoder: .openCLIP, textLayers: 23, autoencoder: .kl)
        #expect(arch.defaultHeads() == [5, 10, 20, 20] && arch.family == "SD 2.x")
        arch.contextDim = 768
        #expect(arch.defaultHeads() == [8, 8, 8, 8] && arch.family == "SD 1.x")
    }

    /// A diffusers folder assembled from the component fixtures (model_index.json + one folder per component).
    func diffusersFolder(textEncoder: String = "clip_sd1", unet: String = "unet_sd1", skip: String? = nil) throws -> String {
        let folder = Fixtures.temporaryFolder()
        let fm = FileManager.default
        var index: [String: [String]] = [:]
        for (component, source, kind) in [("text_encoder", textEncoder, "CLIPTextModel"), ("unet", unet, "UNet2DConditionModel"),
                                          ("vae", "vae_kl", "AutoencoderKL")] where component != skip {
            try fm.createSymbolicLink(atPath: folder + "/" + component, withDestinationPath: Fixtures.path("models/" + source))
            index[component] = [kind == "CLIPTextModel" ? "transformers" : "diffusers", kind]
        }
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: folder + "/model_index.json"))
        return folder
    }

    @Test func diffusersFolderWithFp16Variant() throws {
        let m = try StableDiffusionLoader.load(try diffusersFolder(unet: "unet_sd2"), variant: "fp16")
        try checkUNet(m.unet, "unet_sd2")
        try checkText(m.textEncoder, "clip_sd1")
        try checkVAE(m.vae)
    }

    @Test func brokenInputsGiveOneClearError() throws {
        let dir = Fixtures.temporaryFolder()
        // A diffusers folder without its VAE.
        let noVAE = try diffusersFolder(skip: "vae")
        #expect(throws: ModelError.missingComponent(folder: noVAE, component: "vae")) { try StableDiffusionLoader.load(noVAE) }
        // A pickle checkpoint.
        let ckpt = dir + "/model.ckpt"
        try Data([0x80, 0x02, 0x7d, 0x71]).write(to: URL(fileURLWithPath: ckpt))
        do {
            _ = try StableDiffusionLoader.load(ckpt)
            Issue.record("a .ckpt was opened")
        } catch let e as CheckpointError {
            #expect(e.description.contains(ckpt) && e.description.contains("arbitrary code") && e.description.contains("safetensors"))
        }
        // A truncated single file.
        let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/sd1_single.safetensors")))
        let cut = dir + "/cut.safetensors"
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: cut))
        #expect(throws: CheckpointError.self) { try StableDiffusionLoader.load(cut) }
        // A file missing one key, and one with a wrong shape.
        let source = try SafetensorsFile(path: Fixtures.path("models/sd1_single.safetensors"))
        let dropped = "model.diffusion_model.middle_block.1.proj_out.weight"
        var items = try source.names.filter { $0 != dropped }.map { SafetensorsWriter.Item($0, try source.tensor($0)) }
        let missing = dir + "/missing.safetensors"
        try SafetensorsWriter.write(items, to: missing)
        do {
            _ = try StableDiffusionLoader.load(missing, options: options(heads: [4, 4]))
            Issue.record("a file without \(dropped) loaded")
        } catch let e as ModelError {
            #expect(e == .missingWeight(location: missing, key: "mid_block.attentions.0.proj_out.weight"))
        }
        items = try source.names.map { name in
            name == "model.diffusion_model.out.2.bias" ? SafetensorsWriter.Item(name, Tensor.zeros([5])) : SafetensorsWriter.Item(name, try source.tensor(name))
        }
        let wrong = dir + "/wrong.safetensors"
        try SafetensorsWriter.write(items, to: wrong)
        #expect(throws: ModelError.wrongShape(location: wrong, key: "conv_out.bias", expected: [4], actual: [5])) {
            try StableDiffusionLoader.load(wrong, options: options(heads: [4, 4]))
        }
    }
}
