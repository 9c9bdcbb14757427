import Checkpoint
import Foundation
import Tensor

/// The three networks of a Stable Diffusion model, loaded.
public struct StableDiffusionComponents {
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL?
    /// The folder or file they came from.
    public let source: String
}

/// What cannot be read from a single file's shapes; defaults are Stable Diffusion's.
public struct SingleFileOptions: Sendable {
    public var unetHeads: [Int]?
    public var textHeadDim = 64
    public var normNumGroups = 32
    public init() {}
}

public enum StableDiffusionLoader {
    /// A diffusers folder (model_index.json) or a single-file .safetensors checkpoint.
    public static func load(_ path: String, variant: String? = nil, options: SingleFileOptions = SingleFileOptions()) throws
        -> StableDiffusionComponents {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw CheckpointError.cannotOpen(path: path, reason: "no such file or folder")
        }
        return isFolder.boolValue ? try loadDiffusersFolder(path, variant: variant) : try loadSingleFile(path, options: options)
    }

    // MARK: diffusers folder

    public static func loadDiffusersFolder(_ folder: String, variant: String? = nil) throws -> StableDiffusionComponents {
        let index = folder + "/model_index.json"
        guard let data = FileManager.default.contents(atPath: index),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badConfig(path: index, detail: "missing or not JSON (is this a diffusers model folder?)")
        }
        for component in ["unet", "vae", "text_encoder"] where json[component] == nil {
            throw ModelError.missingComponent(folder: folder, component: component)
        }
        let textFolder = try componentFolder(folder, "text_encoder")
        let unetFolder = try componentFolder(folder, "unet")
        let vaeFolder = try componentFolder(folder, "vae")
        let textEncoder = try CLIPTextModel(config: CLIPTextConfig.load(textFolder + "/config.json"),
                                            weights: weights(in: textFolder, stem: "model", variant: variant))
        let unet = try UNet2DConditionModel(config: UNetConfig.load(unetFolder + "/config.json"),
                                            weights: weights(in: unetFolder, stem: "diffusion_pytorch_model", variant: variant))
        let vae = try AutoencoderKL(config: AutoencoderConfig.load(vaeFolder + "/config.json"),
                                    weights: weights(in: vaeFolder, stem: "diffusion_pytorch_model", variant: variant))
        return StableDiffusionComponents(textEncoder: textEncoder, unet: unet, vae: vae, source: folder)
    }

    public static func componentFolder(_ folder: String, _ component: String) throws -> String {
        let path = folder + "/" + component
        guard FileManager.default.fileExists(atPath: path + "/config.json") else {
            throw ModelError.missingComponent(folder: folder, component: component)
        }
        return path
    }

    /// The component's weights: the requested variant, else the plain file, else an fp16 variant; sharded
    /// checkpoints (`*.safetensors.index.json`) are opened as one store.
    public static func weights(in folder: String, stem: String, variant: String?) throws -> WeightStore {
        var candidates = [String]()
        if let variant { candidates.append("\(stem).\(variant).safetensors") }
        candidates += ["\(stem).safetensors", "\(stem).fp16.safetensors"]
        for name in candidates where FileManager.default.fileExists(atPath: folder + "/" + name) {
            return try SafetensorsFile(path: folder + "/" + name)
        }
        for name in candidates.map({ $0 + ".index.json" }) where FileManager.default.fileExists(atPath: folder + "/" + name) {
            let path = folder + "/" + name
            guard let data = FileManager.default.contents(atPath: path),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw ModelError.badConfig(path: path, detail: "no weight_map")
            }
            return ScopedWeights(try Set(map.values).sorted().map { try SafetensorsFile(path: folder + "/" + $0) })
        }
        if let pickle = try FileManager.default.contentsOfDirectory(atPath: folder).first(where: { $0.hasSuffix(".bin") }) {
            try CheckpointFormat.refuseUnsafe(folder + "/" + pickle)
        }
        throw ModelError.missingComponent(folder: folder, component: "\(stem).safetensors")
    }

    // MARK: single file

    public static func loadSingleFile(_ path: String, options: SingleFileOptions = SingleFileOptions()) throws -> StableDiffusionComponents {
        let checkpoint = try StableDiffusionCheckpoint(singleFile: path)
        let arch = checkpoint.architecture
        guard let textWeights = checkpoint.textEncoder, let kind = arch.textEncoder else {
            throw ModelError.unsupported(location: path, detail: "no text encoder (cond_stage_model.*) in this file")
        }
        var textConfig = CLIPTextConfig()
        let tokenShape = try textWeights.tensor("embeddings.token_embedding.weight").shape
        textConfig.vocabSize = tokenShape[0]
        textConfig.hiddenSize = tokenShape[1]
        textConfig.maxPositionEmbeddings = try textWeights.tensor("embeddings.position_embedding.weight").shape[0]
        textConfig.intermediateSize = try textWeights.tensor("encoder.layers.0.mlp.fc1.weight").shape[0]
        textConfig.numHiddenLayers = arch.textLayers
        textConfig.numAttentionHeads = max(1, tokenShape[1] / options.textHeadDim)
        textConfig.hiddenAct = kind == .clip ? .quickGelu : .gelu
        let textEncoder = try CLIPTextModel(config: textConfig, weights: textWeights)

        var unetConfig = UNetConfig(heads: options.unetHeads ?? arch.defaultHeads(), normNumGroups: options.normNumGroups,
                                    crossAttentionDim: arch.contextDim)
        unetConfig.normEps = 1e-5
        let unet = try UNet2DConditionModel(config: unetConfig, weights: checkpoint.unet)
        var vae: AutoencoderKL?
        if let v = checkpoint.vae, arch.autoencoder == .kl {
            var vaeConfig = AutoencoderConfig()
            vaeConfig.normNumGroups = options.normNumGroups
            vae = try AutoencoderKL(config: vaeConfig, weights: v)
        }
        return StableDiffusionComponents(textEncoder: textEncoder, unet: unet, vae: vae, source: path)
    }
}
