import Foundation

/// The parts of diffusers' UNet2DConditionModel config that shapes cannot tell (attention heads,
/// norm groups, timestep embedding). Channel counts and block layout are read from the weights.
public struct UNetConfig: Decodable, Sendable {
    /// Heads per block, from `num_attention_heads` or (diffusers' legacy naming) `attention_head_dim`.
    public var heads: [Int] = [8]
    public var normNumGroups = 32
    public var normEps: Float = 1e-5
    public var flipSinToCos = true
    public var freqShift: Float = 0
    public var crossAttentionDim = 768

    enum CodingKeys: String, CodingKey {
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift", crossAttentionDim = "cross_attention_dim", blockOutChannels = "block_out_channels"
    }

    public init(heads: [Int], normNumGroups: Int = 32, crossAttentionDim: Int) {
        self.heads = heads
        self.normNumGroups = normNumGroups
        self.crossAttentionDim = crossAttentionDim
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let blocks = (try c.decodeIfPresent([Int].self, forKey: .blockOutChannels))?.count ?? 4
        func intOrList(_ key: CodingKeys) throws -> [Int]? {
            if let v = try? c.decodeIfPresent(Int.self, forKey: key) { return [Int](repeating: v, count: blocks) }
            return try? c.decodeIfPresent([Int].self, forKey: key)
        }
        // diffusers: `num_attention_heads = num_attention_heads or attention_head_dim`.
        heads = try intOrList(.numAttentionHeads) ?? intOrList(.attentionHeadDim) ?? [Int](repeating: 8, count: blocks)
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? 32
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? true
        freqShift = try c.decodeIfPresent(Float.self, forKey: .freqShift) ?? 0
        crossAttentionDim = (try? c.decodeIfPresent(Int.self, forKey: .crossAttentionDim)) ?? 768
    }

    public static func load(_ path: String) throws -> UNetConfig { try loadConfig(path) }
}
