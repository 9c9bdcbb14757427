import Checkpoint
import Foundation
import Tensor

/// transformers BertConfig (the keys a BertModel checkpoint's config.json holds).
public struct BertConfig: Decodable, Sendable {
    public var vocabSize = 30522
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var maxPositionEmbeddings = 512
    public var typeVocabSize = 2
    public var hiddenAct: Activation = .gelu
    public var layerNormEps: Float = 1e-12

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", positionEmbeddingType = "position_embedding_type"
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
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? typeVocabSize
        hiddenAct = try c.decodeIfPresent(Activation.self, forKey: .hiddenAct) ?? hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? layerNormEps
        if let kind = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType), kind != "absolute" {
            throw ModelError.unsupported(location: "BERT config", detail: "position_embedding_type \(kind) (only absolute)")
        }
    }

    public static func load(_ path: String) throws -> BertConfig { try loadConfig(path) }
}

/// transformers BertModel (post-norm encoder): the last hidden state for right-padded token rows, padding
/// masked out of the attention keys. Module tree = checkpoint keys: embeddings.{word,position,token_type}_embeddings,
/// embeddings.LayerNorm, encoder.layer.N.{attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
/// intermediate.dense, output.{dense,LayerNorm}}; keys may sit under "bert." (BertFor* checkpoints). The pooler
/// is not used.
public final class BertModel {
    public let config: BertConfig
    let wordEmbeddings: PackedTensor
    let positionEmbeddings: Tensor
    let tokenType0: Tensor
    let embeddingNorm: LayerNorm
    let layers: [Layer]

    public var hiddenSize: Int { config.hiddenSize }

    public init(config: BertConfig, weights: WeightStore) throws {
        self.config = config
        let root = WeightReader(weights, path: weights.contains("bert.embeddings.word_embeddings.weight") ? "bert" : "")
        let d = config.hiddenSize
        let e = root["embeddings"]
        wordEmbeddings = try e["word_embeddings"].packed("weight", shape: [config.vocabSize, d])
        positionEmbeddings = try e["position_embeddings"].tensor("weight", shape: [config.maxPositionEmbeddings, d])
        tokenType0 = try e["token_type_embeddings"].tensor("weight", shape: [config.typeVocabSize, d]).narrowed(0, start: 0, length: 1)
        embeddingNorm = try LayerNorm(e["LayerNorm"], dim: d, eps: config.layerNormEps)
        layers = try (0..<config.numHiddenLayers).map { try Layer(root["encoder"]["layer"]["\($0)"], config: config) }
    }

    /// ids: equal-length rows (token type 0), `lengths[b]` real tokens at the start of row b (the rest padding).
    /// Returns the last hidden state [rows, n, hiddenSize] (padding positions included, as transformers computes them).
    public func encode(_ ids: [[Int]], lengths: [Int]) throws -> Tensor {
        let batch = ids.count, n = ids.first?.count ?? 0
        guard n <= config.maxPositionEmbeddings else {
            throw ModelError.unsupported(location: "BERT text encoder", detail: "\(n) tokens exceed \(config.maxPositionEmbeddings) positions")
        }
        precondition(lengths.count == batch, "one length per row")
        for row in ids {
            precondition(row.count == n, "token rows differ in length")
            for id in row where id < 0 || id >= config.vocabSize {
                throw ModelError.unsupported(location: "BERT text encoder", detail: "token id \(id) outside the vocabulary of \(config.vocabSize)")
            }
        }
        var h = wordEmbeddings.gatherRows(ids.flatMap { $0 }, shape: [batch, n])
        h = h + positionEmbeddings.narrowed(0, start: 0, length: n) + tokenType0
        h = embeddingNorm(h)
        for layer in layers { h = layer(h, lengths: lengths) }
        return h
    }

    struct Layer {
        let query, key, value, attentionOut, intermediate, output: Linear
        let attentionNorm, outputNorm: LayerNorm
        let heads: Int
        let activation: Activation

        init(_ w: WeightReader, config: BertConfig) throws {
            let d = config.hiddenSize
            let attn = w["attention"]
            query = try Linear(attn["self"]["query"], inFeatures: d, outFeatures: d)
            key = try Linear(attn["self"]["key"], inFeatures: d, outFeatures: d)
            value = try Linear(attn["self"]["value"], inFeatures: d, outFeatures: d)
            attentionOut = try Linear(attn["output"]["dense"], inFeatures: d, outFeatures: d)
            attentionNorm = try LayerNorm(attn["output"]["LayerNorm"], dim: d, eps: config.layerNormEps)
            intermediate = try Linear(w["intermediate"]["dense"], inFeatures: d, outFeatures: config.intermediateSize)
            output = try Linear(w["output"]["dense"], inFeatures: config.intermediateSize, outFeatures: d)
            outputNorm = try LayerNorm(w["output"]["LayerNorm"], dim: d, eps: config.layerNormEps)
            heads = config.numAttentionHeads
            activation = config.hiddenAct
        }

        func callAsFunction(_ x: Tensor, lengths: [Int]) -> Tensor {
            let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
            func split(_ t: Tensor) -> Tensor { t.reshaped([b, n, heads, d / heads]).transposed(1, 2) }
            let a = Tensor.scaledDotProductAttention(query: split(query(x)), key: split(key(x)), value: split(value(x)),
                                                     visibleKeys: lengths)
            let h = attentionNorm(x + attentionOut(a.transposed(1, 2).reshaped([b, n, d])))
            return outputNorm(h + output(activation(intermediate(h))))
        }
    }
}
