import Foundation
import TerminalGraphics
import Testing

/// The sixel and kitty encoders: their output decodes back to the picture (a small sixel reader written from the
/// VT330/340 manual; kitty's payload is the raw RGB in base64), with the framing terminals expect.
@Suite struct PixelGraphicsTests {
    func picture(_ w: Int, _ h: Int) -> Canvas {
        var c = Canvas(width: w, height: h)
        for y in 0..<h { for x in 0..<w { c[x, y] = RGB(UInt8(x * 255 / max(1, w - 1)), UInt8(y * 255 / max(1, h - 1)), x == y ? 255 : 0) } }
        return c
    }

    /// Decodes DCS q … ST: colour registers (#i;2;r;g;b in percent), sixel data, !n repeats, $ and -.
    func decodeSixel(_ text: String) throws -> Canvas {
        let s = Array(text.unicodeScalars)
        #expect(String(String.UnicodeScalarView(s.prefix(8))) == "\u{1B}P0;1;0q" && String(String.UnicodeScalarView(s.suffix(2))) == "\u{1B}\\")
        var i = 8
        func number() -> Int { var n = 0; while i < s.count, let d = Int(String(s[i])), s[i].isASCII { n = n * 10 + d; i += 1 }; return n }
        var w = 0, h = 0
        if s[i] == "\"" { i += 1; _ = number(); i += 1; _ = number(); i += 1; w = number(); i += 1; h = number() }
        var canvas = Canvas(width: w, height: h)
        var palette: [Int: RGB] = [:], colour = RGB(0, 0, 0), x = 0, band = 0
        func scale(_ p: Int) -> UInt8 { UInt8(p * 255 / 100) }
        while i < s.count - 2 {
            let c = s[i]
            switch c {
            case "#":
                i += 1
                let n = number()
                if i < s.count, s[i] == ";" {
                    i += 1; _ = number(); i += 1; let r = number(); i += 1; let g = number(); i += 1; let b = number()
                    palette[n] = RGB(scale(r), scale(g), scale(b))
                } else { colour = palette[n]! }
            case "$": x = 0; i += 1
            case "-": x = 0; band += 6; i += 1
            case "!":
                i += 1
                let n = number()
                let bits = Int(s[i].value) - 63
                for _ in 0..<n { paint(bits); x += 1 }
                i += 1
            default:
                paint(Int(c.value) - 63); x += 1; i += 1
            }
        }
        func paint(_ bits: Int) {
            for r in 0..<6 where bits & (1 << r) != 0 && band + r < h && x < w { canvas[x, band + r] = colour }
        }
        return canvas
    }

    @Test(arguments: [(1, 1), (7, 5), (40, 13), (64, 64)])
    func sixelRoundTrip(_ size: (Int, Int)) throws {
        let c = picture(size.0, size.1)
        let decoded = try decodeSixel(SixelEncoder.encode(c))
        #expect(decoded.width == c.width && decoded.height == c.height)
        // The 6×6×6 cube: every channel within half a level (255/10) of the original.
        for (a, b) in zip(decoded.pixels, c.pixels) {
            #expect(abs(Int(a.r) - Int(b.r)) <= 26 && abs(Int(a.g) - Int(b.g)) <= 26 && abs(Int(a.b) - Int(b.b)) <= 26)
        }
        // A flat row compresses to one repeat per colour and band.
        let flat = SixelEncoder.encode(Canvas(width: 100, height: 6, fill: RGB(255, 0, 0)))
        #expect(flat.contains("!100~") && !flat.contains("$"))
    }

    @Test func kittyChunksAndPayload() throws {
        let c = picture(50, 40)
        let text = KittyEncoder.encode(c, columns: 20, rows: 10, id: 7)
        let chunks = text.components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
        #expect(chunks.count == 2)   // 6000 bytes → 8000 base64 characters → two chunks of ≤ 4096
        #expect(chunks[0].hasPrefix("\u{1B}_Ga=T,f=24,i=7,s=50,v=40,c=20,r=10,C=1,q=2,m=1;") && chunks[1].hasPrefix("\u{1B}_Gm=0;"))
        let payload = chunks.map { String($0[$0.index(after: $0.firstIndex(of: ";")!)...]) }.joined()
        let raw = try #require(Data(base64Encoded: payload))
        #expect(Array(raw) == c.pixels.flatMap { [$0.r, $0.g, $0.b] })
        #expect(KittyEncoder.delete(id: 7) == "\u{1B}_Ga=d,d=I,i=7,q=2\u{1B}\\")
    }
}
