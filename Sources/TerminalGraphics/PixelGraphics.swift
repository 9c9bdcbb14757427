import Foundation

/// How the studio shows images: half-block cells (any colour terminal), or real pixels through the DEC sixel or the
/// kitty graphics protocol where the terminal has them.
public enum GraphicsMode: String, Sendable, CaseIterable {
    case halfblocks, sixel, kitty
}

/// DEC sixel graphics (VT340, xterm -ti vt340, foot, WezTerm, mlterm, mintty, tmux ≥ 3.4 built with sixel): the image
/// quantised to a 6×6×6 colour cube (the registers it uses are defined first), then bands of six pixel rows, one pass
/// per colour, run-length encoded.
public enum SixelEncoder {
    /// The cube level (0…5) nearest to an 8-bit value.
    static func level(_ v: UInt8) -> Int { (Int(v) * 5 + 127) / 255 }

    public static func encode(_ canvas: Canvas) -> String {
        let w = canvas.width, h = canvas.height
        var out = "\u{1B}P0;1;0q\"1;1;\(w);\(h)"
        let index = canvas.pixels.map { level($0.r) * 36 + level($0.g) * 6 + level($0.b) }
        var used = [Bool](repeating: false, count: 216)
        for i in index { used[i] = true }
        for c in 0..<216 where used[c] {
            // Colour registers in percent.
            out += "#\(c);2;\(c / 36 * 20);\(c / 6 % 6 * 20);\(c % 6 * 20)"
        }
        var band = 0
        while band < h {
            let rows = min(6, h - band)
            var colours = Set<Int>()
            for y in band..<(band + rows) { for x in 0..<w { colours.insert(index[y * w + x]) } }
            for (n, c) in colours.sorted().enumerated() {
                if n > 0 { out += "$" }   // back to the band's start for the next colour
                out += "#\(c)"
                var run = 0, previous: Character = "?"
                func flush() {
                    guard run > 0 else { return }
                    out += run > 3 ? "!\(run)\(previous)" : String(repeating: previous, count: run)
                }
                for x in 0..<w {
                    var bits = 0
                    for r in 0..<rows where index[(band + r) * w + x] == c { bits |= 1 << r }
                    let ch = Character(Unicode.Scalar(UInt8(63 + bits)))
                    if ch == previous { run += 1 } else { flush(); previous = ch; run = 1 }
                }
                flush()
            }
            band += 6
            out += band < h ? "-" : ""
        }
        return out + "\u{1B}\\"
    }
}

/// The kitty graphics protocol (kitty, WezTerm, Konsole, Ghostty): raw RGB, base64 in chunks of 4096 bytes, placed
/// at the cursor and scaled by the terminal to `columns`×`rows` cells; the cursor does not move, and the terminal
/// sends no reply (q=2). `id` names the image so the next frame replaces it.
public enum KittyEncoder {
    public static func encode(_ canvas: Canvas, columns: Int, rows: Int, id: Int = 1) -> String {
        var raw = [UInt8]()
        raw.reserveCapacity(canvas.pixels.count * 3)
        for p in canvas.pixels { raw += [p.r, p.g, p.b] }
        let payload = Data(raw).base64EncodedString()
        var out = ""
        var start = payload.startIndex
        var first = true
        repeat {
            let end = payload.index(start, offsetBy: 4096, limitedBy: payload.endIndex) ?? payload.endIndex
            let more = end < payload.endIndex ? 1 : 0
            let control = first
                ? "a=T,f=24,i=\(id),s=\(canvas.width),v=\(canvas.height),c=\(columns),r=\(rows),C=1,q=2,m=\(more)"
                : "m=\(more)"
            out += "\u{1B}_G\(control);\(payload[start..<end])\u{1B}\\"
            start = end
            first = false
        } while start < payload.endIndex
        return out
    }

    /// Deletes image `id` (and its placements).
    public static func delete(id: Int = 1) -> String { "\u{1B}_Ga=d,d=I,i=\(id),q=2\u{1B}\\" }
}
