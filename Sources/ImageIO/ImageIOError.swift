/// Image file problems, each naming the file.
public enum ImageIOError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case corrupt(path: String, detail: String)
    case invalidImage(detail: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): "\(path): cannot read image: \(reason)"
        case let .corrupt(path, detail): "\(path): not a valid PNG: \(detail)"
        case let .invalidImage(detail): "invalid image: \(detail)"
        case let .cannotWrite(path, reason): "\(path): cannot write image: \(reason)"
        }
    }
}
