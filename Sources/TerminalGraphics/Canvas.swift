/// An RGB pixel.
public struct RGB: Equatable, Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
}

/// A pixel canvas (row-major RGB) that renderers turn into terminal cells.
public struct Canvas: Equatable, Sendable {
    public let width: Int, height: Int
    public var pixels: [RGB]

    public init(width: Int, height: Int, fill: RGB = RGB(0, 0, 0)) {
        self.width = width
        self.height = height
        pixels = [RGB](repeating: fill, count: width * height)
    }

    /// From 8-bit RGB samples (3 per pixel, row-major).
    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "\(rgb.count) samples for \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = (0..<(width * height)).map { RGB(rgb[$0 * 3], rgb[$0 * 3 + 1], rgb[$0 * 3 + 2]) }
    }

    public subscript(x: Int, y: Int) -> RGB {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Box-filtered resize (every source pixel contributes to the target pixel it falls in), for thumbnails and panes.
    public func resized(width w: Int, height h: Int) -> Canvas {
        var out = Canvas(width: w, height: h)
        for ty in 0..<h {
            let y0 = ty * height / h, y1 = max(y0 + 1, (ty + 1) * height / h)
            for tx in 0..<w {
                let x0 = tx * width / w, x1 = max(x0 + 1, (tx + 1) * width / w)
                var r = 0, g = 0, b = 0
                for y in y0..<y1 { for x in x0..<x1 { let p = self[x, y]; r += Int(p.r); g += Int(p.g); b += Int(p.b) } }
                let n = (y1 - y0) * (x1 - x0)
                out[tx, ty] = RGB(UInt8(r / n), UInt8(g / n), UInt8(b / n))
            }
        }
        return out
    }

    /// The largest size with this aspect ratio that fits `maxWidth`×`maxHeight` pixels.
    public func fittedSize(maxWidth: Int, maxHeight: Int) -> (width: Int, height: Int) {
        let scale = min(Double(maxWidth) / Double(width), Double(maxHeight) / Double(height))
        return (max(1, Int(Double(width) * scale)), max(1, Int(Double(height) * scale)))
    }
}
