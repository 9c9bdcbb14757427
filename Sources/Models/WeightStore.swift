import Checkpoint
import Foundation
import Tensor

/// Where a model component reads its weights from, by key.
public protocol WeightStore {
    var keys: Set<String> { get }
    /// The tensor as fp32 (converted from fp16/bf16 if stored so).
    func tensor(_ key: String) throws -> Tensor
    /// A name for error messages (a file or folder).
    var location: String { get }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingWeight(location: String, key: String)
    case wrongShape(location: String, key: String, expected: [Int], actual: [Int])
    case badConfig(path: String, detail: String)
    case unsupported(location: String, detail: String)

    public var description: String {
        switch self {
        case let .missingWeight(location, key): "\(location): missing weight '\(key)'"
        case let .wrongShape(location, key, expected, actual): "\(location): weight '\(key)' has shape \(actual), expected \(expected)"
        case let .badConfig(path, detail): "\(path): bad model config: \(detail)"
        case let .unsupported(location, detail): "\(location): unsupported model: \(detail)"
        }
    }
}

extension SafetensorsFile: WeightStore {
    public var keys: Set<String> { Set(entries.keys) }
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

    public func tensor(_ key: String) throws -> Tensor {
        for s in stores where s.keys.contains(prefix + key) { return try s.tensor(prefix + key) }
        throw ModelError.missingWeight(location: location, key: prefix + key)
    }

    /// A view of the keys under `scope` (e.g. "text_model.").
    public func scoped(_ scope: String) -> ScopedWeights { ScopedWeights(stores, prefix: prefix + scope) }
}

/// Reads weights for one module path, checking shapes. Mirrors the checkpoint's key tree.
public struct WeightReader {
    public let store: WeightStore
    public let path: String

    public init(_ store: WeightStore, path: String = "") {
        self.store = store
        self.path = path
    }

    public func child(_ name: String) -> WeightReader {
        WeightReader(store, path: path.isEmpty ? name : path + "." + name)
    }

    public subscript(_ name: String) -> WeightReader { child(name) }

    func key(_ name: String) -> String { path.isEmpty ? name : path + "." + name }

    public func has(_ name: String) -> Bool { store.keys.contains(key(name)) }

    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        let k = key(name)
        guard store.keys.contains(k) else { throw ModelError.missingWeight(location: store.location, key: k) }
        let t = try store.tensor(k)
        if let shape, t.shape != shape {
            throw ModelError.wrongShape(location: store.location, key: k, expected: shape, actual: t.shape)
        }
        return t
    }
}
