/// The one rename table between the original latent-diffusion ("LDM", A1111 single-file) key layout and
/// diffusers' layout, for the U-Net, the autoencoder and the CLIP / OpenCLIP text encoders.
/// Reference: diffusers loaders/single_file_utils.py (convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint,
/// convert_ldm_clip_checkpoint, convert_open_clip_checkpoint) — the same mapping, written as one function per key.
public enum LDMKeyMap {
    public static let unetPrefix = "model.diffusion_model."
    public static let vaePrefixes = ["first_stage_model.", "vae."]
    public static let clipPrefixes = ["cond_stage_model.transformer.text_model.", "cond_stage_model.transformer.",
                                      "conditioner.embedders.0.transformer.text_model."]
    public static let openCLIPPrefix = "cond_stage_model.model."

    static let resnet: [(String, String)] = [
        ("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("emb_layers.1.", "time_emb_proj."),
        ("out_layers.0.", "norm2."), ("out_layers.3.", "conv2."), ("skip_connection.", "conv_shortcut."),
    ]

    static func replacePrefix(_ s: String, _ table: [(String, String)]) -> String {
        for (old, new) in table where s.hasPrefix(old) { return new + s.dropFirst(old.count) }
        return s
    }

    /// LDM U-Net key (without "model.diffusion_model.") → diffusers key. `layersPerBlock` is the number of
    /// resnets per down block (2 for SD); up blocks have one more.
    public static func unetKey(_ key: String, layersPerBlock: Int, upBlocksWithAttention: Set<Int>) -> String? {
        let fixed: [(String, String)] = [("time_embed.0.", "time_embedding.linear_1."), ("time_embed.2.", "time_embedding.linear_2."),
                                         ("input_blocks.0.0.", "conv_in."), ("out.0.", "conv_norm_out."), ("out.2.", "conv_out.")]
        for (old, new) in fixed where key.hasPrefix(old) { return new + key.dropFirst(old.count) }
        if key.hasPrefix("middle_block.") {
            let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, let j = Int(parts[1]) else { return nil }
            return j % 2 == 0 ? "mid_block.resnets.\(j / 2).\(replacePrefix(parts[2], resnet))" : "mid_block.attentions.\(j / 2).\(parts[2])"
        }
        let parts = key.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, let i = Int(parts[1]), let j = Int(parts[2]) else { return nil }
        let rest = parts[3], n = layersPerBlock + 1
        switch parts[0] {
        case "input_blocks" where i >= 1:
            let (b, l) = ((i - 1) / n, (i - 1) % n)
            if j == 0 && rest.hasPrefix("op.") { return "down_blocks.\(b).downsamplers.0.conv.\(rest.dropFirst(3))" }
            if j == 0 { return "down_blocks.\(b).resnets.\(l).\(replacePrefix(rest, resnet))" }
            if j == 1 { return "down_blocks.\(b).attentions.\(l).\(rest)" }
        case "output_blocks":
            let (b, l) = (i / n, i % n)
            if j == 0 { return "up_blocks.\(b).resnets.\(l).\(replacePrefix(rest, resnet))" }
            // The upsampler sits at index 1 in blocks without attention, 2 in blocks with it.
            if rest.hasPrefix("conv.") && (j == 2 || !upBlocksWithAttention.contains(b)) {
                return "up_blocks.\(b).upsamplers.0.conv.\(rest.dropFirst(5))"
            }
            if j == 1 { return "up_blocks.\(b).attentions.\(l).\(rest)" }
        default: break
        }
        return nil
    }

    /// LDM autoencoder key (without its prefix) → diffusers key and how to read it. `upBlocks` is the number of
    /// decoder up blocks (LDM numbers them from the lowest resolution's opposite end).
    public static func vaeKey(_ key: String, upBlocks: Int) -> (String, RenamedWeights.Source.Kind)? {
        let parts = key.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return nil }
        let e = parts[0]
        if e == "quant_conv" || e == "post_quant_conv" || e == "quantize" { return (key, .direct) }
        guard e == "encoder" || e == "decoder" else { return nil }
        let tail = parts.dropFirst(1).joined(separator: ".")
        func resnetRest(_ s: String) -> String { s.replacingOccurrences(of: "nin_shortcut.", with: "conv_shortcut.") }
        if tail.hasPrefix("norm_out.") { return ("\(e).conv_norm_out.\(tail.dropFirst(9))", .direct) }
        if tail.hasPrefix("conv_in.") || tail.hasPrefix("conv_out.") { return (key, .direct) }
        if parts[1] == "down" || parts[1] == "up", parts.count >= 5, let i = Int(parts[2]) {
            let block = parts[1] == "down" ? "down_blocks.\(i)" : "up_blocks.\(upBlocks - 1 - i)"
            let rest = parts.dropFirst(4).joined(separator: ".")
            switch parts[3] {
            case "block": return ("\(e).\(block).resnets.\(resnetRest(rest))", .direct)
            case "downsample", "upsample":
                return ("\(e).\(block).\(parts[3] == "downsample" ? "downsamplers" : "upsamplers").0.\(rest)", .direct)
            default: return nil
            }
        }
        if parts[1] == "mid", parts.count >= 4 {
            let rest = parts.dropFirst(3).joined(separator: ".")
            switch parts[2] {
            case "block_1": return ("\(e).mid_block.resnets.0.\(resnetRest(rest))", .direct)
            case "block_2": return ("\(e).mid_block.resnets.1.\(resnetRest(rest))", .direct)
            case "attn_1":
                let attention: [(String, String)] = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."),
                                                     ("proj_out.", "to_out.0.")]
                let renamed = replacePrefix(rest, attention)
                return ("\(e).mid_block.attentions.0.\(renamed)", renamed.hasPrefix("group_norm.") ? .direct : .squeezed)
            default: return nil
            }
        }
        return nil
    }

    /// OpenCLIP text key (without "cond_stage_model.model.") → transformers CLIP keys (in_proj becomes three).
    public static func openCLIPKeys(_ key: String) -> [(String, RenamedWeights.Source.Kind, Int)] {
        let fixed: [String: String] = ["token_embedding.weight": "embeddings.token_embedding.weight",
                                       "positional_embedding": "embeddings.position_embedding.weight",
                                       "ln_final.weight": "final_layer_norm.weight", "ln_final.bias": "final_layer_norm.bias"]
        if let k = fixed[key] { return [(k, .direct, 0)] }
        let prefix = "transformer.resblocks."
        guard key.hasPrefix(prefix) else { return [] }
        let parts = key.dropFirst(prefix.count).split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let i = Int(parts[0]) else { return [] }
        let layer = "encoder.layers.\(i)."
        switch parts[1] {
        case "attn.in_proj_weight", "attn.in_proj_bias":
            let t = parts[1].hasSuffix("weight") ? "weight" : "bias"
            return ["q_proj", "k_proj", "v_proj"].enumerated().map { (layer + "self_attn.\($0.element).\(t)", .slice, $0.offset) }
        default:
            let map: [(String, String)] = [("attn.out_proj.", "self_attn.out_proj."), ("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."),
                                           ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")]
            for (old, new) in map where parts[1].hasPrefix(old) { return [(layer + new + parts[1].dropFirst(old.count), .direct, 0)] }
            return []
        }
    }
}

extension RenamedWeights.Source {
    public enum Kind: Sendable { case direct, squeezed, slice }
}
