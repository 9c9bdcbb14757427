import Checkpoint
import Foundation
import Tensor

/// Locates and opens reference fixtures written by Tests/Fixtures/make_fixtures.py.
public enum Fixtures {
    /// The repository's Tests/Fixtures folder, found from this source file's location.
    public static let folder: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    public static func path(_ name: String) -> String { folder + "/" + name }

    public static func open(_ name: String) throws -> SafetensorsFile { try SafetensorsFile(path: path(name)) }

    /// A fresh scratch folder under the system temp directory.
    public static func temporaryFolder() -> String {
        let path = NSTemporaryDirectory() + "phosphor-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Comparison used by every numeric test: the error is measured relative to the expected output's
/// scale, max|actual − expected| / max(max|expected|, 1e-6) — the "relative to the output's scale".
public func scaledMaxError(_ actual: Tensor, _ expected: Tensor) -> Float {
    precondition(actual.shape == expected.shape, "shape \(actual.shape) vs expected \(expected.shape)")
    let a = actual.toArray(), e = expected.toArray()
    var err: Float = 0, scale: Float = 1e-6
    for i in 0..<a.count {
        if a[i].isNaN != e[i].isNaN { return .infinity }
        if a[i].isNaN { continue }
        err = max(err, abs(a[i] - e[i]))
        scale = max(scale, abs(e[i]))
    }
    return err / scale
}

/// One fixture file: cases' tensors stored in it, or generated from the SplitMix64 recipe in its metadata.
public struct FixtureFile {
    public let file: SafetensorsFile

    public init(_ name: String) throws { file = try Fixtures.open(name) }

    /// The tensor "case.key": stored, or generated from "splitmix:seed:scale:shape" metadata.
    public func tensor(_ name: String, _ key: String) throws -> Tensor {
        let full = "\(name).\(key)"
        if file.entries[full] != nil { return try file.tensor(full) }
        guard let recipe = file.metadata[full] else { throw CheckpointError.missingTensor(path: file.path, tensor: full) }
        let parts = recipe.split(separator: ":").map(String.init)
        precondition(parts.count == 4 && parts[0] == "splitmix", "unknown recipe \(recipe)")
        let shape = parts[3].split(separator: ",").map { Int($0)! }
        return Tensor.randomUniform(shape, seed: UInt64(parts[1])!, scale: Float(parts[2])!)
    }

    public func integers(_ name: String, _ key: String) throws -> [Int] { try file.integers("\(name).\(key)") }

    /// A case option stored as JSON in the metadata ("case.@name").
    public func option<T: Decodable>(_ name: String, _ option: String, as type: T.Type = T.self) throws -> T {
        let key = "\(name).@\(option)"
        guard let json = file.metadata[key] else { throw CheckpointError.missingTensor(path: file.path, tensor: key) }
        return try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }
}
