import Foundation
import Tensor

/// Full-size checkpoints with random weights, for tests and benchmarks of real-size models without a download.
/// The architectures are key → shape tables the fixture script takes from the reference classes
/// (assets/architectures/*.json).
public enum RandomCheckpoint {
    /// Reads an architecture table: {"key": [shape], ...}.
    public static func layout(architecture path: String, dtype: DType) throws -> [SafetensorsWriter.Layout] {
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: [Int]] else {
            throw CheckpointError.cannotOpen(path: path, reason: "not an architecture table ({key: shape})")
        }
        return json.keys.sorted().map { SafetensorsWriter.Layout($0, dtype, json[$0]!) }
    }

    /// Writes random fp16 weights of magnitude in [2⁻⁷, 2⁻⁶) with random signs (cheap to make and keeps
    /// activations finite through deep networks); norm weights get 1 ± that, so features are not scaled away.
    public static func writeFP16(architecture path: String, to output: String, seed: UInt64 = 1) throws {
        let layout = try layout(architecture: path, dtype: .f16)
        try SafetensorsWriter.write(layout: layout, metadata: ["format": "pt", "phosphor": "random weights"], to: output) { index, bytes in
            let item = layout[index]
            let isNorm = item.shape.count == 1 && (item.name.contains("norm") || item.name.contains("ln_") || item.name.contains("in_layers.0")
                                                   || item.name.contains("out_layers.0") || item.name.hasSuffix("out.0.weight"))
                && item.name.hasSuffix("weight")
            let halves = bytes.bindMemory(to: UInt16.self)
            var state = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            for i in 0..<halves.count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let r = UInt16(truncatingIfNeeded: state >> 48)
                // sign | exponent 8 (2^-7) | 10 random mantissa bits; norms: 1.0 + the same mantissa noise.
                halves[i] = isNorm ? 0x3C00 | (r & 0x00ff) : (r & 0x8000) | 0x2000 | (r & 0x03ff)
            }
        }
    }
}
