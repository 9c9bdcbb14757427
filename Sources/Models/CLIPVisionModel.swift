import Checkpoint
import Foundation
import Tensor

/// transformers CLIPVisionConfig (the keys a CLIPVisionModelWithProjection config.json holds).
public struct CLIPVisionConfig: Decodable, Sendable {
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var projectionDim = 512
    public var hiddenAct: Activation = .quickGelu
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", patchSize = "patch_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads", projectionDim = "projection_dim"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? patchSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? projectionDim
        hiddenAct = try c.decodeIfPresent(Activation.self, forKey: .hiddenAct) ?? hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? layerNormEps
    }

    public static func load(_ path: String) throws -> CLIPVisionConfig { try loadConfig(path) }
}

/// transformers CLIPVisionModelWithProjection (ViT): patch convolution, class token, positions, pre-LN, the CLIP
/// encoder layers (not causal), the class token through post-LN and the projection. Module tree = checkpoint keys:
/// vision_model.{embeddings.{class_embedding,patch_embedding,position_embedding}, pre_layrnorm, encoder.layers.N,
/// post_layernorm}, visual_projection.
public final class CLIPVisionModel {
    public let config: CLIPVisionConfig
    let classEmbedding: Tensor
    let patchEmbedding: Tensor
    let positionEmbedding: Tensor
    let preNorm, postNorm: LayerNorm
    let layers: [CLIPTextModel.EncoderLayer]
    let projection: Linear

    public init(config: CLIPVisionConfig, weights: WeightStore) throws {
        self.config = config
        let root = WeightReader(weights)
        let v = root["vision_model"]
        let d = config.hiddenSize, p = config.patchSize
        let grid = config.imageSize / p
        classEmbedding = try v["embeddings"].tensor("class_embedding", shape: [d])
        patchEmbedding = try v["embeddings"]["patch_embedding"].tensor("weight", shape: [d, 3, p, p])
        positionEmbedding = try v["embeddings"]["position_embedding"].tensor("weight", shape: [grid * grid + 1, d])
        preNorm = try LayerNorm(v["pre_layrnorm"], dim: d, eps: config.layerNormEps)
        postNorm = try LayerNorm(v["post_layernorm"], dim: d, eps: config.layerNormEps)
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPTextModel.EncoderLayer(v["encoder"]["layers"]["\($0)"], hidden: d, intermediate: config.intermediateSize,
                                           heads: config.numAttentionHeads, activation: config.hiddenAct, eps: config.layerNormEps, causal: false)
        }
        projection = try Linear(root["visual_projection"], inFeatures: d, outFeatures: config.projectionDim, bias: false)
    }

    /// pixels [B, 3, imageSize, imageSize] (already normalised as the model was trained) → image embeddings [B, projectionDim].
    public func imageEmbeds(_ pixels: Tensor) throws -> Tensor {
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == config.imageSize, pixels.shape[3] == config.imageSize else {
            throw ModelError.unsupported(location: "CLIP image encoder", detail: "needs [B, 3, \(config.imageSize), \(config.imageSize)] pixels, got \(pixels.shape)")
        }
        let b = pixels.shape[0], d = config.hiddenSize, p = config.patchSize
        let patches = pixels.conv2d(weight: patchEmbedding, bias: nil, options: Conv2dOptions(stride: p, padding: 0))
        let n = patches.shape[2] * patches.shape[3]
        let tokens = patches.reshaped([b, d, n]).transposed(1, 2).contiguous()    // [B, n, d]
        let cls = classEmbedding.reshaped([1, 1, d]).expanded(to: [b, 1, d]).contiguous()
        var h = Tensor.concat([cls, tokens], dim: 1) + positionEmbedding.reshaped([1, n + 1, d])
        h = preNorm(h)
        for layer in layers { h = layer(h) }
        let pooled = postNorm(h.narrowed(1, start: 0, length: 1).reshaped([b, d]).contiguous())
        return projection(pooled)
    }
}
