/// An 8-bit interleaved RGB (3 channels) or RGBA (4 channels) image, rows top to bottom.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw ImageIOError.invalidImage(detail: "size \(width)×\(height) is empty") }
        guard channels == 3 || channels == 4 else { throw ImageIOError.invalidImage(detail: "\(channels) channels (need 3 or 4)") }
        guard pixels.count == width * height * channels else {
            throw ImageIOError.invalidImage(detail: "\(pixels.count) bytes for \(width)×\(height)×\(channels)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// For callers that have already established the invariants.
    init(validatedWidth width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// A float interleaved RGB or RGBA image with samples in 0...1 (16-bit PNGs keep their precision).
public struct FloatImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var samples: [Float]
}

/// One PNG text chunk (tEXt, zTXt or iTXt).
public struct PNGTextChunk: Equatable, Sendable {
    public var keyword: String
    public var text: String
    public var international: Bool
    public init(keyword: String, text: String, international: Bool = false) {
        self.keyword = keyword
        self.text = text
        self.international = international
    }
}
