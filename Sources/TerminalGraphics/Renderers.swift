/// One terminal cell: a character with foreground and background colours.
public struct Cell: Equatable, Hashable, Sendable {
    public var character: Character
    public var foreground: TerminalColor
    public var background: TerminalColor
    public var style: Style
    public init(_ character: Character, foreground: TerminalColor = .terminalDefault, background: TerminalColor = .terminalDefault,
                style: Style = .plain) {
        (self.character, self.foreground, self.background, self.style) = (character, foreground, background, style)
    }

    public enum Style: Sendable { case plain, bold, reverse, dim }
    public static let blank = Cell(" ")
}

/// A colour as the terminal is told it: the terminal's own default, 24-bit RGB (direct-colour terminals) or an
/// xterm-256 palette index.
public enum TerminalColor: Hashable, Sendable {
    case terminalDefault
    case rgb(RGB)
    case palette(Int)
}

/// How many colours the terminal shows.
public enum ColorDepth: String, Sendable, CaseIterable {
    case truecolor, palette256 = "256"
}

/// Half-block rendering: each cell shows two vertically stacked pixels, the upper as the foreground of "▀" and the
/// lower as the background (chafa/timg's default symbol mode for colour terminals).
public struct HalfBlockRenderer: Sendable {
    public let depth: ColorDepth
    public init(depth: ColorDepth) { self.depth = depth }

    /// Rows of cells for the canvas (height rounded up to even; a missing lower pixel is black).
    public func render(_ canvas: Canvas) -> [[Cell]] {
        (0..<((canvas.height + 1) / 2)).map { row in
            (0..<canvas.width).map { x in
                let top = canvas[x, 2 * row]
                let bottom = 2 * row + 1 < canvas.height ? canvas[x, 2 * row + 1] : RGB(0, 0, 0)
                return Cell("▀", foreground: color(top), background: color(bottom))
            }
        }
    }

    func color(_ p: RGB) -> TerminalColor {
        depth == .truecolor ? .rgb(p) : .palette(Self.xterm256(p))
    }

    /// Nearest xterm-256 colour: the 6×6×6 cube (levels 0, 95, 135, 175, 215, 255) or the 24-step grey ramp
    /// (8 + 10k), whichever is closer in RGB distance.
    public static func xterm256(_ p: RGB) -> Int {
        let levels = [0, 95, 135, 175, 215, 255]
        func nearestLevel(_ v: UInt8) -> Int {
            levels.indices.min { abs(levels[$0] - Int(v)) < abs(levels[$1] - Int(v)) }!
        }
        let (ri, gi, bi) = (nearestLevel(p.r), nearestLevel(p.g), nearestLevel(p.b))
        let cube = (levels[ri], levels[gi], levels[bi])
        let mean = (Int(p.r) + Int(p.g) + Int(p.b)) / 3
        let grayIndex = min(23, max(0, (mean - 3) / 10))
        let gray = 8 + 10 * grayIndex
        func distance(_ c: (Int, Int, Int)) -> Int {
            let d = (c.0 - Int(p.r), c.1 - Int(p.g), c.2 - Int(p.b))
            return d.0 * d.0 + d.1 * d.1 + d.2 * d.2
        }
        return distance((gray, gray, gray)) < distance(cube) ? 232 + grayIndex : 16 + 36 * ri + 6 * gi + bi
    }
}
