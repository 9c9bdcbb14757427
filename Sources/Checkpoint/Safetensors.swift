import Foundation
import Tensor

/// One tensor's record in a safetensors header.
public struct SafetensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>
}

/// A memory-mapped safetensors file whose header has been fully validated before any data is read.
/// Format: 8-byte little-endian header length N, N bytes of JSON, then the data section.
public final class SafetensorsFile: @unchecked Sendable {
    public static let maxHeaderLength: UInt64 = 100_000_000

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: SafetensorsEntry]
    private let file: MappedFile
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        guard file.size >= 8 else {
            throw CheckpointError.truncated(path: path, detail: "\(file.size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = file.base.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= SafetensorsFile.maxHeaderLength else {
            throw CheckpointError.headerTooLarge(path: path, length: headerLength)
        }
        guard 8 + Int(headerLength) <= file.size else {
            throw CheckpointError.truncated(path: path, detail: "header says \(headerLength) bytes but only \(file.size - 8) follow")
        }
        dataStart = 8 + Int(headerLength)
        let header = Data(bytes: file.base + 8, count: Int(headerLength))
        let parsed = try SafetensorsFile.parseHeader(header, path: path, dataSize: file.size - dataStart)
        metadata = parsed.metadata
        entries = parsed.entries
    }

    /// Tensor names in file order of their data.
    public var names: [String] { entries.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name) }

    public func entry(_ name: String) throws -> SafetensorsEntry {
        guard let e = entries[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        return e
    }

    /// The raw little-endian bytes of a tensor, valid while this file is alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let e = try entry(name)
        return UnsafeRawBufferPointer(start: file.base + dataStart + e.byteRange.lowerBound, count: e.byteRange.count)
    }

    /// The tensor in its stored dtype, without reading its data (the mapping stays alive with it).
    public func packed(_ name: String) throws -> PackedTensor {
        let e = try entry(name)
        return PackedTensor(dtype: e.dtype, shape: e.shape, raw: file.base + dataStart + e.byteRange.lowerBound, owner: file)
    }

    /// The tensor as fp32. F32 data that is 4-byte aligned is used in place (read-only, zero copy);
    /// other dtypes are converted. Tensors that share the mapping keep it alive.
    public func tensor(_ name: String) throws -> Tensor { try packed(name).unpacked() }

    /// Integer tensors (token ids, position ids) as Int.
    public func integers(_ name: String) throws -> [Int] {
        let e = try entry(name)
        let raw = try rawBytes(name)
        let n = e.shape.reduce(1, *)
        switch e.dtype {
        case .i64: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        case .i32: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        default: return try tensor(name).toArray().map { Int($0) }
        }
    }

    static func parseHeader(_ header: Data, path: String, dataSize: Int) throws
        -> (metadata: [String: String], entries: [String: SafetensorsEntry]) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw CheckpointError.malformedHeader(path: path, detail: "not valid JSON")
        }
        guard let root = object as? [String: Any] else {
            throw CheckpointError.malformedHeader(path: path, detail: "the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var entries: [String: SafetensorsEntry] = [:]
        for (name, value) in root {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError.malformedHeader(path: path, detail: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw CheckpointError.malformedHeader(path: path, detail: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw CheckpointError.malformedHeader(path: path, detail: "entry '\(name)' is not an object")
            }
            guard let dtypeName = info["dtype"] as? String else {
                throw CheckpointError.malformedHeader(path: path, detail: "entry '\(name)' has no dtype")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw CheckpointError.unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            guard let shapeValues = info["shape"] as? [Any] else {
                throw CheckpointError.badShape(path: path, tensor: name, detail: "missing or not a list")
            }
            var shape: [Int] = []
            var elements = 1
            for v in shapeValues {
                guard let d = exactInteger(v), d >= 0 else {
                    throw CheckpointError.badShape(path: path, tensor: name, detail: "dimension \(v) is not a non-negative integer")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw CheckpointError.badShape(path: path, tensor: name, detail: "element count overflows") }
                elements = product
                shape.append(d)
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInteger(offsets[0]), let end = exactInteger(offsets[1]) else {
                throw CheckpointError.malformedHeader(path: path, detail: "entry '\(name)' needs data_offsets [begin, end]")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw CheckpointError.offsetsOutOfBounds(path: path, tensor: name,
                                                         detail: "[\(begin), \(end)) with a data section of \(dataSize) bytes")
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, expected == end - begin else {
                throw CheckpointError.byteLengthMismatch(path: path, tensor: name, expected: overflow ? Int.max : expected, actual: end - begin)
            }
            entries[name] = SafetensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        let ordered = entries.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw CheckpointError.overlappingTensors(path: path, first: a.name, second: b.name)
        }
        return (metadata, entries)
    }

    /// JSON numbers as Int only when they are exact integers (2.5 and 1e30 are rejected).
    private static func exactInteger(_ v: Any) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return n.intValue
    }
}

/// Writes safetensors files (sorted keys, 8-byte aligned header, atomic replace).
public enum SafetensorsWriter {
    public struct Item {
        public let name: String
        public let tensor: Tensor
        public let dtype: DType
        public init(_ name: String, _ tensor: Tensor, dtype: DType = .f32) {
            self.name = name
            self.tensor = tensor
            self.dtype = dtype
        }
    }

    /// One tensor's place in a file being written: its name, dtype and shape.
    public struct Layout {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public init(_ name: String, _ dtype: DType, _ shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// The 8-byte length and JSON header (padded with spaces to a multiple of 8) for tensors in this order.
    static func header(_ layout: [Layout], metadata: [String: String]) -> [UInt8] {
        var offset = 0
        var fields: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        for item in layout {
            let shape = item.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + item.byteCount)]}")
            offset += item.byteCount
        }
        var json = Array("{\(fields.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json
    }

    public static func encode(_ items: [Item], metadata: [String: String] = [:]) -> [UInt8] {
        let sorted = items.sorted { $0.name < $1.name }
        var out = header(sorted.map { Layout($0.name, $0.dtype, $0.tensor.shape) }, metadata: metadata)
        for item in sorted { out += item.tensor.encoded(as: item.dtype) }
        return out
    }

    /// Writes a file tensor by tensor: `fill(index, bytes)` produces each tensor's raw little-endian data into
    /// a buffer of its size, so files larger than memory can be made (random test checkpoints). Atomic.
    public static func write(layout: [Layout], metadata: [String: String] = [:], to path: String, overwrite: Bool = true,
                             fill: (Int, UnsafeMutableRawBufferPointer) -> Void) throws {
        do {
            try AtomicFile.write(to: path, overwrite: overwrite) { fd, _ in
                func put(_ buffer: UnsafeRawBufferPointer) throws { try AtomicFile.writeAll(fd, buffer, path: path) }
                try header(layout, metadata: metadata).withUnsafeBytes { try put($0) }
                let largest = layout.map(\.byteCount).max() ?? 0
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(largest, 1), alignment: 64)
                defer { buffer.deallocate() }
                for (i, item) in layout.enumerated() {
                    let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<item.byteCount])
                    fill(i, slice)
                    try put(UnsafeRawBufferPointer(slice))
                }
            }
        } catch let e as FileWriteError {
            throw CheckpointError.cannotWrite(path: path, reason: e.reason)
        }
    }

    public static func write(_ items: [Item], metadata: [String: String] = [:], to path: String, overwrite: Bool = true) throws {
        do {
            try AtomicFile.write(encode(items, metadata: metadata), to: path, overwrite: overwrite)
        } catch let e as FileWriteError {
            throw CheckpointError.cannotWrite(path: path, reason: e.reason)
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
