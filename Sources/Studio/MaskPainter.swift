import Foundation
import TerminalGraphics

/// The inpainting mask painter: a brush on an opened image (keys move it; with the pen down it paints or erases),
/// the mask shown as a tint. Pure value type; the runtime saves the mask as `NAME.mask.png` beside the image.
public struct MaskPainter: Equatable, Sendable {
    public let imagePath: String
    public let image: Canvas
    public private(set) var mask: [Bool]
    public var x: Int, y: Int
    public var radius: Int
    public var penDown = false
    public var erasing = false
    /// The first corner of a rectangle being drawn (the rectangle tool), if any.
    public var rectangleAnchor: (x: Int, y: Int)?

    public static func == (a: MaskPainter, b: MaskPainter) -> Bool {
        a.imagePath == b.imagePath && a.image == b.image && a.mask == b.mask && a.x == b.x && a.y == b.y && a.radius == b.radius
            && a.penDown == b.penDown && a.erasing == b.erasing && a.rectangleAnchor?.x == b.rectangleAnchor?.x
            && a.rectangleAnchor?.y == b.rectangleAnchor?.y
    }

    public init(imagePath: String, image: Canvas) {
        self.imagePath = imagePath
        self.image = image
        mask = [Bool](repeating: false, count: image.width * image.height)
        (x, y) = (image.width / 2, image.height / 2)
        radius = max(2, image.width / 16)
    }

    public var maskPath: String {
        (imagePath.hasSuffix(".png") ? String(imagePath.dropLast(4)) : imagePath) + ".mask.png"
    }

    /// Paints (or erases) a disc of the brush radius at the cursor.
    public mutating func stamp() {
        for py in max(0, y - radius)...min(image.height - 1, y + radius) {
            for px in max(0, x - radius)...min(image.width - 1, x + radius) where (px - x) * (px - x) + (py - y) * (py - y) <= radius * radius {
                mask[py * image.width + px] = !erasing
            }
        }
    }

    /// Moves the cursor by (dx, dy) brush steps, painting along the way when the pen is down.
    public mutating func move(_ dx: Int, _ dy: Int) {
        let step = max(1, radius / 2)
        for _ in 0..<2 {
            x = min(image.width - 1, max(0, x + dx * step / 2 + dx * (step % 2)))
            y = min(image.height - 1, max(0, y + dy * step / 2 + dy * (step % 2)))
            if penDown { stamp() }
        }
    }

    /// The rectangle tool: the first call anchors a corner at the cursor, the second paints (or erases) the rectangle
    /// between it and the cursor.
    public mutating func rectangle() {
        guard let anchor = rectangleAnchor else { rectangleAnchor = (x, y); return }
        for py in min(anchor.y, y)...max(anchor.y, y) {
            for px in min(anchor.x, x)...max(anchor.x, x) { mask[py * image.width + px] = !erasing }
        }
        rectangleAnchor = nil
    }

    /// Moves the cursor to a pixel; with the pen down, paints the way there (a stamp every half radius), as a mouse
    /// drag does.
    public mutating func drag(to px: Int, _ py: Int) {
        let tx = min(image.width - 1, max(0, px)), ty = min(image.height - 1, max(0, py))
        let distance = max(abs(tx - x), abs(ty - y))
        let steps = penDown ? max(1, distance * 2 / max(1, radius)) : 1
        let (sx, sy) = (x, y)
        for i in 1...steps {
            x = sx + (tx - sx) * i / steps
            y = sy + (ty - sy) * i / steps
            if penDown { stamp() }
        }
    }

    /// Takes a mask made elsewhere (white = repaint) at the image's size.
    public mutating func load(_ canvas: Canvas) {
        guard canvas.width == image.width, canvas.height == image.height else { return }
        mask = canvas.pixels.map { (Int($0.r) * 299 + Int($0.g) * 587 + Int($0.b) * 114) >= 128_000 }
    }

    public mutating func invert() { mask = mask.map { !$0 } }
    public mutating func clear() { mask = [Bool](repeating: false, count: mask.count) }
    public var isEmpty: Bool { !mask.contains(true) }

    /// White = repaint, as `phosphor inpaint` reads masks.
    public var maskCanvas: Canvas {
        var c = Canvas(width: image.width, height: image.height)
        c.pixels = mask.map { $0 ? RGB(255, 255, 255) : RGB(0, 0, 0) }
        return c
    }

    /// The image with the mask tinted red and the brush outline.
    public var preview: Canvas {
        var c = image
        for i in 0..<mask.count where mask[i] {
            let p = c.pixels[i]
            c.pixels[i] = RGB(UInt8((Int(p.r) + 255) / 2), UInt8(Int(p.g) / 2), UInt8(Int(p.b) / 2))
        }
        for a in stride(from: 0.0, to: 6.283, by: 0.1) {
            let px = x + Int((Double(radius) * cos(a)).rounded()), py = y + Int((Double(radius) * sin(a)).rounded())
            if px >= 0 && py >= 0 && px < c.width && py < c.height { c[px, py] = erasing ? RGB(0, 255, 255) : RGB(255, 255, 0) }
        }
        if let a = rectangleAnchor {
            // The rectangle being drawn: its outline.
            for px in min(a.x, x)...max(a.x, x) { c[px, a.y] = RGB(255, 255, 0); c[px, y] = RGB(255, 255, 0) }
            for py in min(a.y, y)...max(a.y, y) { c[a.x, py] = RGB(255, 255, 0); c[x, py] = RGB(255, 255, 0) }
        }
        return c
    }
}

