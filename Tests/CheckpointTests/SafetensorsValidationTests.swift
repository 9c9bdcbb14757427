import Checkpoint
import Foundation
import Testing
import Tensor
import TestSupport

/// Damaged files must give a typed error naming the file (and tensor), never a crash or a read past the end.
@Suite struct SafetensorsValidationTests {
    let dir = Fixtures.temporaryFolder()

    /// A file made of a raw header length, a header text and `dataBytes` bytes of data.
    func file(_ name: String, headerLength: UInt64? = nil, header: String, dataBytes: Int) throws -> String {
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += h + [UInt8](repeating: 7, count: dataBytes)
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func error(_ path: String) -> CheckpointError? {
        do { _ = try SafetensorsFile(path: path); return nil } catch { return error as? CheckpointError }
    }

    @Test func truncatedFile() throws {
        // A valid file cut short in its data section.
        let path = dir + "/truncated.safetensors"
        try SafetensorsWriter.write([.init("w", Tensor.randomUniform([16, 16], seed: 1))], to: path)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        try full.prefix(full.count - 100).write(to: URL(fileURLWithPath: path))
        let e = error(path)
        guard case .offsetsOutOfBounds(path, "w", _) = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(e!.description.contains(path) && e!.description.contains("'w'"))
        // Cut inside the 8-byte length and inside the header.
        try full.prefix(5).write(to: URL(fileURLWithPath: path))
        guard case .truncated(path, _) = error(path) else { Issue.record("short file: \(String(describing: error(path)))"); return }
        try full.prefix(20).write(to: URL(fileURLWithPath: path))
        guard case .truncated(path, _) = error(path) else { Issue.record("cut header: \(String(describing: error(path)))"); return }
    }

    @Test func offsetsPastTheEnd() throws {
        let path = try file("past.safetensors", header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8)
        guard case .offsetsOutOfBounds(path, "w", _) = error(path) else { Issue.record("\(String(describing: error(path)))"); return }
    }

    @Test func hugeHeaderLength() throws {
        let path = try file("huge.safetensors", headerLength: 1 << 63, header: "{}", dataBytes: 0)
        #expect(error(path) == .headerTooLarge(path: path, length: 1 << 63))
        let path2 = try file("big.safetensors", headerLength: 100_000_001, header: "{}", dataBytes: 0)
        #expect(error(path2) == .headerTooLarge(path: path2, length: 100_000_001))
    }

    @Test func shapeAndByteLengthMismatch() throws {
        let path = try file("mismatch.safetensors", header: #"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(error(path) == .byteLengthMismatch(path: path, tensor: "w", expected: 12, actual: 8))
    }

    @Test func unknownDtype() throws {
        let path = try file("dtype.safetensors", header: #"{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}}"#, dataBytes: 2)
        #expect(error(path) == .unknownDType(path: path, tensor: "w", dtype: "Q4_K"))
        #expect(error(path)!.description == "\(path): tensor 'w' has unknown dtype 'Q4_K'")
    }

    @Test func overlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let path = try file("overlap.safetensors", header: header, dataBytes: 12)
        #expect(error(path) == .overlappingTensors(path: path, first: "a", second: "b"))
    }

    @Test(arguments: [
        "not json", #"[1,2]"#, #"{"w":5}"#, #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, #"{"__metadata__":{"k":1}}"#,
    ])
    func malformedHeaders(header: String) throws {
        let path = try file("malformed.safetensors", header: header, dataBytes: 4)
        guard case .malformedHeader(path, _) = error(path) else { Issue.record("\(header): \(String(describing: error(path)))"); return }
    }

    @Test(arguments: [#"[-1]"#, #"[2.5]"#, #"["x"]"#, #"[4611686018427387904,4611686018427387904]"#])
    func badShapes(shape: String) throws {
        let path = try file("shape.safetensors", header: #"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, dataBytes: 4)
        guard case .badShape(path, "w", _) = error(path) else { Issue.record("\(shape): \(String(describing: error(path)))"); return }
    }

    @Test func missingFileAndFolder() throws {
        let missing = dir + "/absent.safetensors"
        guard case .cannotOpen(missing, _) = error(missing) else { Issue.record("missing"); return }
        guard case .cannotOpen(dir, _) = error(dir) else { Issue.record("folder"); return }
    }

    @Test func randomBytesNeverCrash() throws {
        var state: UInt64 = 42
        for i in 0..<200 {
            var bytes = [UInt8](repeating: 0, count: 8 + Int(state % 300))
            for j in bytes.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; bytes[j] = UInt8(state >> 56) }
            // Half the cases get a plausible header length so the JSON parser is reached.
            if i % 2 == 0 { withUnsafeBytes(of: UInt64(bytes.count - 8).littleEndian) { for k in 0..<8 { bytes[k] = $0[k] } } }
            let path = dir + "/random.safetensors"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(error(path) != nil)
        }
    }
}
