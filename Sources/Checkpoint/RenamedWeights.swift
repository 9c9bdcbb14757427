import Tensor

/// Weights under new names: each key maps to a source tensor, optionally reshaped or sliced (views, no copy
/// for fp32 data). This is how single-file checkpoints are seen through the diffusers key tree.
public struct RenamedWeights: WeightStore {
    public enum Source: Equatable, Sendable {
        case direct(String)
        /// A 1×1 convolution weight [O, I, 1, 1] used as a linear weight [O, I] (LDM VAE attention).
        case squeezed(String)
        /// Part `part` of `parts` equal slices along dim 0 (OpenCLIP's fused q/k/v in_proj).
        case slice(String, part: Int, parts: Int)

        var sourceKey: String {
            switch self {
            case .direct(let k), .squeezed(let k), .slice(let k, _, _): k
            }
        }
    }

    public let base: WeightStore
    public let table: [String: Source]

    public init(base: WeightStore, table: [String: Source]) {
        self.base = base
        self.table = table
    }

    public var keys: Set<String> { Set(table.keys) }
    public var location: String { base.location }
    public func contains(_ key: String) -> Bool { table[key] != nil }

    public func packed(_ key: String) throws -> PackedTensor {
        guard let source = table[key] else { throw CheckpointError.missingTensor(path: location, tensor: key) }
        let t = try base.packed(source.sourceKey)
        switch source {
        case .direct: return t
        case .squeezed:
            return t.rank == 4 && t.shape[2] == 1 && t.shape[3] == 1 ? t.reshaped([t.shape[0], t.shape[1]]) : t
        case let .slice(_, part, parts):
            let n = t.shape[0] / parts
            return t.rows(part * n, n)
        }
    }
}
