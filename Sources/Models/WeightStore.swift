import Checkpoint
import Foundation
import Tensor

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingWeight(location: String, key: String)
    case wrongShape(location: String, key: String, expected: [Int], actual: [Int])
    case badConfig(path: String, detail: String)
    case unsupported(location: String, detail: String)
    case missingComponent(folder: String, component: String)

    public var description: String {
        switch self {
        case let .missingWeight(location, key): "\(location): missing weight '\(key)'"
        case let .wrongShape(location, key, expected, actual): "\(location): weight '\(key)' has shape \(actual), expected \(expected)"
        case let .badConfig(path, detail): "\(path): bad model config: \(detail)"
        case let .unsupported(location, detail): "\(location): unsupported model: \(detail)"
        case let .missingComponent(folder, component): "\(folder): missing model component '\(component)'"
        }
    }
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

    public func has(_ name: String) -> Bool { store.contains(key(name)) }

    /// The weight in its stored type (fp16/bf16 stay packed until used), its shape checked.
    public func packed(_ name: String, shape: [Int]? = nil) throws -> PackedTensor {
        let k = key(name)
        guard store.contains(k) else { throw ModelError.missingWeight(location: store.location, key: k) }
        let t = try store.packed(k)
        if let shape, t.shape != shape {
            throw ModelError.wrongShape(location: store.location, key: k, expected: shape, actual: t.shape)
        }
        return t
    }

    /// The weight as fp32 now (for small tensors: norms, biases, embeddings of positions).
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        try packed(name, shape: shape).unpacked()
    }
}

/// Decodes a JSON config file, with errors that name the file.
func loadConfig<T: Decodable>(_ path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.badConfig(path: path, detail: "cannot read") }
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
        throw ModelError.badConfig(path: path, detail: "\(error)")
    }
}
