import Checkpoint
import Foundation
import Tensor

/// Prompt token ids → context for the U-Net's cross-attention.
public protocol TextEncoding {
    /// ids: one row of `maxLength` ids per prompt. Returns [rows, maxLength, hiddenSize].
    func encode(_ ids: [[Int]], clipSkip: Int) throws -> Tensor
    var hiddenSize: Int { get }
}

/// transformers CLIPTextConfig (the keys Stable Diffusion checkpoints use).
public struct CLIPTextConfig: Decodable, Sendable {
    public var vocabSize = 49408
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var maxPositionEmbeddings = 77
    public var hiddenAct: Activation = .quickGelu
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(Activation.self, forKey: .hiddenAct) ?? hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? layerNormEps
    }

    public static func load(_ path: String) throws -> CLIPTextConfig { try loadConfig(path) }
}

/// transformers CLIPTextModel (causal self-attention transformer over token + position embeddings).
/// Module tree = checkpoint keys: embeddings.{token,position}_embedding, encoder.layers.N.{self_attn.{q,k,v,out}_proj,
/// layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}, final_layer_norm. Keys may sit under "text_model." (transformers 4).
public final class CLIPTextModel: TextEncoding {
    public let config: CLIPTextConfig
    let tokenEmbedding: PackedTensor
    let positionEmbedding: Tensor
    let layers: [EncoderLayer]
    let finalLayerNorm: LayerNorm

    public var hiddenSize: Int { config.hiddenSize }

    public init(config: CLIPTextConfig, weights: WeightStore) throws {
        self.config = config
        // transformers 4 saved keys under "text_model."; transformers 5 without it. Accept both.
        let root = WeightReader(weights, path: weights.contains("text_model.embeddings.token_embedding.weight") ? "text_model" : "")
        let d = config.hiddenSize
        tokenEmbedding = try root["embeddings"]["token_embedding"].packed("weight", shape: [config.vocabSize, d])
        positionEmbedding = try root["embeddings"]["position_embedding"].tensor("weight", shape: [config.maxPositionEmbeddings, d])
        layers = try (0..<config.numHiddenLayers).map { i in
            try EncoderLayer(root["encoder"]["layers"]["\(i)"], config: config)
        }
        finalLayerNorm = try LayerNorm(root["final_layer_norm"], dim: d, eps: config.layerNormEps)
    }

    /// Hidden states after the last layer (clipSkip 1) or `clipSkip - 1` layers before it, then the final
    /// layer norm — A1111's "Clip skip" (diffusers `clip_skip` + 1).
    public func encode(_ ids: [[Int]], clipSkip: Int = 1) throws -> Tensor {
        precondition(clipSkip >= 1 && clipSkip <= layers.count, "clip skip \(clipSkip) outside 1...\(layers.count)")
        let batch = ids.count, n = ids.first?.count ?? 0
        precondition(n <= config.maxPositionEmbeddings, "\(n) tokens exceed \(config.maxPositionEmbeddings) positions")
        for row in ids {
            precondition(row.count == n, "token rows differ in length")
            for id in row where id < 0 || id >= config.vocabSize {
                throw ModelError.unsupported(location: "CLIP text encoder", detail: "token id \(id) outside the vocabulary of \(config.vocabSize)")
            }
        }
        var h = tokenEmbedding.gatherRows(ids.flatMap { $0 }, shape: [batch, n])
        h = h + positionEmbedding.narrowed(0, start: 0, length: n)
        for layer in layers.prefix(layers.count - (clipSkip - 1)) { h = layer(h) }
        return finalLayerNorm(h)
    }

    struct EncoderLayer {
        let q, k, v, out: Linear
        let norm1, norm2: LayerNorm
        let fc1, fc2: Linear
        let heads: Int
        let activation: Activation
        /// Text towers mask later tokens; the vision tower attends everywhere.
        let causal: Bool

        init(_ w: WeightReader, config: CLIPTextConfig) throws {
            try self.init(w, hidden: config.hiddenSize, intermediate: config.intermediateSize, heads: config.numAttentionHeads,
                          activation: config.hiddenAct, eps: config.layerNormEps, causal: true)
        }

        init(_ w: WeightReader, hidden d: Int, intermediate: Int, heads: Int, activation: Activation, eps: Float, causal: Bool) throws {
            let attn = w["self_attn"]
            q = try Linear(attn["q_proj"], inFeatures: d, outFeatures: d)
            k = try Linear(attn["k_proj"], inFeatures: d, outFeatures: d)
            v = try Linear(attn["v_proj"], inFeatures: d, outFeatures: d)
            out = try Linear(attn["out_proj"], inFeatures: d, outFeatures: d)
            norm1 = try LayerNorm(w["layer_norm1"], dim: d, eps: eps)
            norm2 = try LayerNorm(w["layer_norm2"], dim: d, eps: eps)
            fc1 = try Linear(w["mlp"]["fc1"], inFeatures: d, outFeatures: intermediate)
            fc2 = try Linear(w["mlp"]["fc2"], inFeatures: intermediate, outFeatures: d)
            self.heads = heads
            self.activation = activation
            self.causal = causal
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
            let hd = d / heads
            let y = norm1(x)
            func split(_ t: Tensor) -> Tensor { t.reshaped([b, n, heads, hd]).transposed(1, 2) }
            let a = Tensor.scaledDotProductAttention(query: split(q(y)), key: split(k(y)), value: split(v(y)), causal: causal)
            var h = x + out(a.transposed(1, 2).reshaped([b, n, d]))
            h = h + fc2(activation(fc1(norm2(h))))
            return h
        }
    }
}
