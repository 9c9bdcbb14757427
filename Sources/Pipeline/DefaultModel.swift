import Checkpoint
import Foundation
import Models
import Tokenizer

/// Phosphor's own latent-diffusion folder (the embedded default model, assets/default): model_index.json with
/// `_class_name` PhosphorLatentDiffusionPipeline, a BERT `text_encoder` + WordPiece `tokenizer` (vocab.txt), a
/// `unet` (UNet2DConditionModel, optionally with inpainting input channels), a `vqvae` (VQModel) and a
/// `scheduler`. Its "phosphor" block gives the context length and the recommended request settings. U-Net and VQ
/// weights are widened to fp32 once at load (about 50 MB): at 32² latents, widening per call cost more than the math.
public struct DefaultModel {
    public static let className = "PhosphorLatentDiffusionPipeline"

    public let conditioner: BertConditioner
    public let unet: UNet2DConditionModel
    public let vqvae: VQModel
    public let defaults: ModelDefaults

    public static func load(_ folder: String, index: [String: Any]) throws -> DefaultModel {
        let settings = index["phosphor"] as? [String: Any] ?? [:]
        let unetFolder = try StableDiffusionLoader.componentFolder(folder, "unet")
        let vqFolder = try StableDiffusionLoader.componentFolder(folder, "vqvae")
        let conditioner = try Self.conditioner(folder, index: index)
        let unet = try UNet2DConditionModel(config: UNetConfig.load(unetFolder + "/config.json"),
                                            weights: DecodedWeights(StableDiffusionLoader.weights(in: unetFolder, stem: "diffusion_pytorch_model", variant: nil)))
        let vq = try VQModel(config: AutoencoderConfig.load(vqFolder + "/config.json"),
                             weights: DecodedWeights(StableDiffusionLoader.weights(in: vqFolder, stem: "diffusion_pytorch_model", variant: nil)))
        let defaults = ModelDefaults(width: settings["width"] as? Int, height: settings["height"] as? Int,
                                     steps: settings["steps"] as? Int,
                                     cfgScale: (settings["guidance_scale"] as? NSNumber)?.floatValue,
                                     sampler: settings["sampler"] as? String ?? "euler",
                                     schedule: settings["schedule"] as? String ?? "normal",
                                     layout: settings["layout"] as? String)
        return DefaultModel(conditioner: conditioner, unet: unet, vqvae: vq, defaults: defaults)
    }

    /// The folder's text side (WordPiece tokenizer + BERT), loaded once per folder for the process: the pipeline's
    /// conditioning and the CLIP scorer's locked text tower are the same model, and a `generate` needs both.
    public static func conditioner(_ folder: String, index: [String: Any]) throws -> BertConditioner {
        conditionerLock.lock()
        defer { conditionerLock.unlock() }
        let maxTokens = (index["phosphor"] as? [String: Any])?["max_tokens"] as? Int ?? 32
        let key = folder + "\u{0}\(maxTokens)"
        if let hit = conditioners[key] { return hit }
        let textFolder = try StableDiffusionLoader.componentFolder(folder, "text_encoder")
        let vocab = folder + "/tokenizer/vocab.txt"
        guard FileManager.default.fileExists(atPath: vocab) else {
            throw ModelError.missingComponent(folder: folder, component: "tokenizer/vocab.txt")
        }
        let tokenizer = try WordPieceTokenizer(vocabFile: vocab, maxLength: maxTokens)
        let bert = try BertModel(config: BertConfig.load(textFolder + "/config.json"),
                                 weights: StableDiffusionLoader.weights(in: textFolder, stem: "model", variant: nil))
        let made = BertConditioner(tokenizer: tokenizer, model: bert)
        conditioners[key] = made
        return made
    }
    nonisolated(unsafe) private static var conditioners: [String: BertConditioner] = [:]
    private static let conditionerLock = NSLock()
}
