import Tensor

/// Where a model component reads its weights from, by key.
public protocol WeightStore {
    var keys: Set<String> { get }
    /// The tensor in its stored type, converted only when unpacked.
    func packed(_ key: String) throws -> PackedTensor
    /// A name for error messages (a file or folder).
    var location: String { get }
    func contains(_ key: String) -> Bool
}

extension WeightStore {
    /// The tensor as fp32 (converted from fp16/bf16 if stored so; aligned fp32 is used in place).
    public func tensor(_ key: String) throws -> Tensor { try packed(key).unpacked() }
}

extension SafetensorsFile: WeightStore {
    public var keys: Set<String> { Set(entries.keys) }
    public func contains(_ key: String) -> Bool { entries[key] != nil }
    public var location: String { path }
}

/// Several files seen as one (sharded checkpoints), or one file under a key prefix.
public struct ScopedWeights: WeightStore {
    let stores: [WeightStore]
    let prefix: String

    public init(_ stores: [WeightStore], prefix: String = "") {
        self.stores = stores
        self.prefix = prefix
    }

    public var keys: Set<String> {
        var out = Set<String>()
        for s in stores { for k in s.keys where k.hasPrefix(prefix) { out.insert(String(k.dropFirst(prefix.count))) } }
        return out
    }

    public var location: String { stores.map(\.location).joined(separator: ", ") }

    public func contains(_ key: String) -> Bool { stores.contains { $0.contains(prefix + key) } }

    public func packed(_ key: String) throws -> PackedTensor {
        for s in stores where s.contains(prefix + key) { return try s.packed(prefix + key) }
        throw CheckpointError.missingTensor(path: location, tensor: prefix + key)
    }

    /// A view of the keys under `scope` (e.g. "text_model.").
    public func scoped(_ scope: String) -> ScopedWeights { ScopedWeights(stores, prefix: prefix + scope) }
}


/// A store whose tensors are converted to fp32 once, when first read, and kept: for small models (the default model)
/// the per-call fp16 → fp32 widening of every weight would cost more than the arithmetic.
public struct DecodedWeights: WeightStore {
    let base: WeightStore
    public init(_ base: WeightStore) { self.base = base }
    public var keys: Set<String> { base.keys }
    public var location: String { base.location }
    public func contains(_ key: String) -> Bool { base.contains(key) }
    public func packed(_ key: String) throws -> PackedTensor {
        let p = try base.packed(key)
        return p.dtype == .f32 ? p : PackedTensor(p.unpacked())
    }
}
