import Foundation
import Tensor

/// What a checkpoint's tensor shapes say about it (architecture rule 6: inferred, not looked up by name).
public struct StableDiffusionArchitecture: Equatable, Sendable {
    public enum TextEncoderKind: String, Sendable { case clip, openCLIP }
    public enum AutoencoderKind: String, Sendable { case kl, vq }
    public enum PredictionType: String, Sendable { case epsilon, vPrediction = "v_prediction" }

    public var unetInChannels: Int
    /// Cross-attention context width: 768 for SD 1.x (CLIP ViT-L), 1024 for SD 2.x (OpenCLIP ViT-H).
    public var contextDim: Int
    public var unetChannels: [Int]
    public var layersPerBlock: Int
    public var textEncoder: TextEncoderKind?
    public var textLayers: Int
    public var autoencoder: AutoencoderKind?
    /// What the U-Net predicts, where the file tells (see `StableDiffusionCheckpoint.predictionType`).
    public var predictionType: PredictionType = .epsilon

    public init(unetInChannels: Int, contextDim: Int, unetChannels: [Int], layersPerBlock: Int,
                textEncoder: TextEncoderKind?, textLayers: Int, autoencoder: AutoencoderKind?) {
        self.unetInChannels = unetInChannels
        self.contextDim = contextDim
        self.unetChannels = unetChannels
        self.layersPerBlock = layersPerBlock
        self.textEncoder = textEncoder
        self.textLayers = textLayers
        self.autoencoder = autoencoder
    }

    public var isInpainting: Bool { unetInChannels == 9 }
    public var family: String { contextDim == 1024 ? "SD 2.x" : contextDim == 768 ? "SD 1.x" : "custom (\(contextDim))" }

    /// Heads per U-Net block: SD 1.x uses 8 everywhere; SD 2.x uses 64-wide heads.
    public func defaultHeads() -> [Int] {
        contextDim == 1024 ? unetChannels.map { max(1, $0 / 64) } : [Int](repeating: 8, count: unetChannels.count)
    }
}

/// A single-file (original LDM / A1111) Stable Diffusion checkpoint seen as diffusers components.
public struct StableDiffusionCheckpoint {
    public let path: String
    public let file: SafetensorsFile
    public let unet: RenamedWeights
    public let vae: RenamedWeights?
    public let textEncoder: RenamedWeights?
    public private(set) var architecture: StableDiffusionArchitecture

    public init(singleFile path: String) throws {
        try CheckpointFormat.refuseUnsafe(path)
        self.path = path
        file = try SafetensorsFile(path: path)
        let keys = file.keys

        // U-Net
        let unetKeys = keys.filter { $0.hasPrefix(LDMKeyMap.unetPrefix) }.map { String($0.dropFirst(LDMKeyMap.unetPrefix.count)) }
        guard !unetKeys.isEmpty else {
            throw CheckpointError.missingTensor(path: path, tensor: LDMKeyMap.unetPrefix + "* (no U-Net in this file)")
        }
        let opBlocks = unetKeys.compactMap { k -> Int? in
            let p = k.split(separator: ".")
            return p.count > 3 && p[0] == "input_blocks" && p[2] == "0" && p[3] == "op" ? Int(p[1]) : nil
        }
        let inputBlocks = Set(unetKeys.compactMap { k -> Int? in
            let p = k.split(separator: ".")
            return p.count > 1 && p[0] == "input_blocks" ? Int(p[1]) : nil
        })
        let layersPerBlock = (opBlocks.min() ?? inputBlocks.count) - 1
        guard layersPerBlock >= 1 else { throw CheckpointError.malformedHeader(path: path, detail: "cannot tell the U-Net's layers per block") }
        let n = layersPerBlock + 1
        let upWithAttention = Set(unetKeys.compactMap { k -> Int? in
            let p = k.split(separator: ".")
            return p.count > 3 && p[0] == "output_blocks" && p[2] == "1" && p[3] != "conv" ? Int(p[1]).map { $0 / n } : nil
        })
        var unetTable: [String: RenamedWeights.Source] = [:]
        for k in unetKeys {
            guard let d = LDMKeyMap.unetKey(k, layersPerBlock: layersPerBlock, upBlocksWithAttention: upWithAttention) else { continue }
            unetTable[d] = .direct(LDMKeyMap.unetPrefix + k)
        }
        let unetWeights = RenamedWeights(base: file, table: unetTable)
        unet = unetWeights

        // Autoencoder
        var vaeTable: [String: RenamedWeights.Source] = [:]
        if let prefix = LDMKeyMap.vaePrefixes.first(where: { p in keys.contains { $0.hasPrefix(p + "decoder.") } }) {
            let vaeKeys = keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            let upBlocks = Set(vaeKeys.compactMap { k -> Int? in
                let p = k.split(separator: ".")
                return p.count > 2 && p[0] == "decoder" && p[1] == "up" ? Int(p[2]) : nil
            }).count
            for k in vaeKeys {
                guard let (d, kind) = LDMKeyMap.vaeKey(k, upBlocks: upBlocks) else { continue }
                vaeTable[d] = kind == .squeezed ? .squeezed(prefix + k) : .direct(prefix + k)
            }
        }
        vae = vaeTable.isEmpty ? nil : RenamedWeights(base: file, table: vaeTable)

        // Text encoder
        var textTable: [String: RenamedWeights.Source] = [:]
        var textKind: StableDiffusionArchitecture.TextEncoderKind?
        var textLayers = 0
        if let prefix = LDMKeyMap.clipPrefixes.first(where: { p in keys.contains { $0.hasPrefix(p + "embeddings.") } }) {
            textKind = .clip
            for k in keys where k.hasPrefix(prefix) { textTable[String(k.dropFirst(prefix.count))] = .direct(k) }
            textLayers = Set(textTable.keys.compactMap { k -> Int? in
                let p = k.split(separator: ".")
                return p.count > 2 && p[0] == "encoder" && p[1] == "layers" ? Int(p[2]) : nil
            }).count
        } else if keys.contains(LDMKeyMap.openCLIPPrefix + "token_embedding.weight") {
            textKind = .openCLIP
            for k in keys where k.hasPrefix(LDMKeyMap.openCLIPPrefix) {
                for (d, kind, part) in LDMKeyMap.openCLIPKeys(String(k.dropFirst(LDMKeyMap.openCLIPPrefix.count))) {
                    textTable[d] = kind == .slice ? .slice(k, part: part, parts: 3) : .direct(k)
                }
            }
            // SD 2.x conditions on the penultimate block: the last of OpenCLIP's blocks is never used.
            textLayers = Set(textTable.keys.compactMap { k -> Int? in
                let p = k.split(separator: ".")
                return p.count > 2 && p[0] == "encoder" && p[1] == "layers" ? Int(p[2]) : nil
            }).count - 1
        }
        textEncoder = textTable.isEmpty ? nil : RenamedWeights(base: file, table: textTable)

        // Architecture from shapes.
        let convIn = try file.entry(LDMKeyMap.unetPrefix + "input_blocks.0.0.weight").shape
        var channels: [Int] = []
        var b = 0
        while let e = file.entries[LDMKeyMap.unetPrefix + "input_blocks.\(1 + b * n).0.in_layers.2.weight"] {
            channels.append(e.shape[0])
            b += 1
        }
        let contextKey = unetTable.keys.sorted().first { $0.hasSuffix("attn2.to_k.weight") }
        let contextDim = try contextKey.map { try unetWeights.tensorShape($0)[1] } ?? 0
        architecture = StableDiffusionArchitecture(
            unetInChannels: convIn[1], contextDim: contextDim, unetChannels: channels, layersPerBlock: layersPerBlock,
            textEncoder: textKind, textLayers: textLayers,
            autoencoder: vaeTable.isEmpty ? nil : (vaeTable["quantize.embedding.weight"] != nil ? .vq : .kl))
        architecture.predictionType = try Self.predictionType(file: file, architecture: architecture, layersPerBlock: layersPerBlock)
    }

    /// v-prediction where detectable: a `v_pred` key (as SDXL-era files mark it), or for SD 2.x non-inpainting
    /// U-Nets ComfyUI's heuristic — the population std of the last output block's first transformer norm1 bias
    /// above 0.09 (comfy/supported_models.py SD20.model_type). Otherwise epsilon; a diffusers folder's
    /// scheduler config, when there is one, is the better source.
    static func predictionType(file: SafetensorsFile, architecture a: StableDiffusionArchitecture, layersPerBlock: Int) throws
        -> StableDiffusionArchitecture.PredictionType {
        if file.entries["v_pred"] != nil { return .vPrediction }
        guard a.contextDim == 1024 || a.textEncoder == .openCLIP, a.unetInChannels == 4 else { return .epsilon }
        let last = a.unetChannels.count * (layersPerBlock + 1) - 1
        let key = LDMKeyMap.unetPrefix + "output_blocks.\(last).1.transformer_blocks.0.norm1.bias"
        guard file.entries[key] != nil else { return .epsilon }
        let values = try file.tensor(key).toArray().map(Double.init)
        let mean = values.reduce(0, +) / Double(max(values.count, 1))
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(values.count, 1))
        return variance.squareRoot() > 0.09 ? .vPrediction : .epsilon
    }
}

extension RenamedWeights {
    /// The stored shape of a key's source (before any view), without reading its data.
    func tensorShape(_ key: String) throws -> [Int] {
        try base.packed((table[key] ?? .direct(key)).sourceKey).shape
    }
}

/// File-format checks shared by every loader.
public enum CheckpointFormat {
    /// Pickle checkpoints (.ckpt, .pt, .pth, .bin, or any file that starts like a pickle or a torch zip)
    /// can execute arbitrary code when loaded, so Phosphor never unpickles them.
    public static func refuseUnsafe(_ path: String) throws {
        let lower = path.lowercased()
        var isPickle = [".ckpt", ".pt", ".pth", ".bin", ".pkl"].contains { lower.hasSuffix($0) }
        if !isPickle, let handle = FileHandle(forReadingAtPath: path) {
            let head = [UInt8]((try? handle.read(upToCount: 4)) ?? Data())
            try? handle.close()
            // 0x80 0x02...0x05 starts a pickle; "PK\3\4" a zip (torch.save's format).
            isPickle = (head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1])) || head == [0x50, 0x4B, 0x03, 0x04]
        }
        if isPickle {
            throw CheckpointError.cannotOpen(path: path, reason: """
                pickle checkpoints (.ckpt/.pt) can run arbitrary code when loaded, so Phosphor does not open them; \
                convert it once to .safetensors (e.g. python -c "import torch, safetensors.torch as s; \
                s.save_file(torch.load('IN.ckpt', weights_only=True)['state_dict'], 'OUT.safetensors')")
                """)
        }
    }
}
