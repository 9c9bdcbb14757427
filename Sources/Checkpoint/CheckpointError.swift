/// Everything that can be wrong with a checkpoint file, each naming the file (and tensor) involved.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case truncated(path: String, detail: String)
    case headerTooLarge(path: String, length: UInt64)
    case malformedHeader(path: String, detail: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case badShape(path: String, tensor: String, detail: String)
    case offsetsOutOfBounds(path: String, tensor: String, detail: String)
    case overlappingTensors(path: String, first: String, second: String)
    case byteLengthMismatch(path: String, tensor: String, expected: Int, actual: Int)
    case missingTensor(path: String, tensor: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "\(path): cannot open checkpoint: \(reason)"
        case let .truncated(path, detail): "\(path): file is truncated: \(detail)"
        case let .headerTooLarge(path, length): "\(path): safetensors header length \(length) is larger than the 100 MB limit or the file"
        case let .malformedHeader(path, detail): "\(path): malformed safetensors header: \(detail)"
        case let .unknownDType(path, tensor, dtype): "\(path): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case let .badShape(path, tensor, detail): "\(path): tensor '\(tensor)' has a bad shape: \(detail)"
        case let .offsetsOutOfBounds(path, tensor, detail): "\(path): tensor '\(tensor)' data offsets are out of bounds: \(detail)"
        case let .overlappingTensors(path, first, second): "\(path): tensors '\(first)' and '\(second)' overlap in the data section"
        case let .byteLengthMismatch(path, tensor, expected, actual): "\(path): tensor '\(tensor)' holds \(actual) bytes but its shape and dtype need \(expected)"
        case let .missingTensor(path, tensor): "\(path): no tensor named '\(tensor)'"
        case let .cannotWrite(path, reason): "\(path): cannot write: \(reason)"
        }
    }
}
