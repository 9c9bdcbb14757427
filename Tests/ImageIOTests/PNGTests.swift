import Foundation
import ImageIO
import Testing
import Tensor
import TestSupport

@Suite struct PNGReadTests {
    let expected: FixtureFile
    init() throws { expected = try FixtureFile("png.safetensors") }

    /// Files encoded by the fixture script (zlib + struct, not libpng) in every colour type and depth.
    @Test(arguments: ["gray1.png", "gray8.png", "gray16.png", "gray_alpha8.png", "rgb8.png", "rgb8.png", "rgba8.png",
                      "rgba16.png", "palette4_trns.png"])
    func decodesEveryColourType(_ name: String) throws {
        let png = try PNG.read(path: Fixtures.path("png/" + name))
        let want = try expected.tensor(name, "rgba")
        let (h, w) = (want.shape[0], want.shape[1])
        #expect(png.width == w && png.height == h)
        let floats = png.rgbFloat(keepAlpha: true)
        let bytes = png.rgb8(keepAlpha: true)
        let channels = floats.channels
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<4 {
                    let ref = want[y, x, c]
                    let value: Float = c < channels ? floats.samples[(y * w + x) * channels + c] * 255 : 255
                    // Float output keeps 16-bit precision: compare in 8-bit units within rounding of float math.
                    #expect(abs(value - ref) <= 1e-3, "\(name) (\(x),\(y)) channel \(c)")
                    let byte: Float = c < bytes.channels ? Float(bytes.pixels[(y * w + x) * bytes.channels + c]) : 255
                    #expect(abs(byte - ref) <= 0.5, "\(name) 8-bit (\(x),\(y)) channel \(c)")
                }
            }
        }
    }

    @Test func readsTextChunksOfAllThreeKinds() throws {
        let texts = try PNG.readText(path: Fixtures.path("png/rgb8.png"))
        #expect(texts.first { $0.keyword == "parameters" }?.text == "a red circle\nSteps: 20, Sampler: Euler a")
        #expect(texts.first { $0.keyword == "Comment" }?.text == "café ☃ 😀")
        #expect(texts.first { $0.keyword == "Software" }?.text == "zlib text")
    }
}

@Suite struct PNGWriteTests {
    let dir = Fixtures.temporaryFolder()

    func gradient(_ w: Int, _ h: Int, channels: Int) throws -> RGBImage {
        var px = [UInt8](repeating: 0, count: w * h * channels)
        for i in 0..<(w * h) { for c in 0..<channels { px[i * channels + c] = UInt8((i * 7 + c * 50) % 256) } }
        return try RGBImage(width: w, height: h, channels: channels, pixels: px)
    }

    @Test(arguments: [3, 4])
    func roundTripsPixelsAndText(channels: Int) throws {
        let image = try gradient(33, 17, channels: channels)
        let path = dir + "/rt\(channels).png"
        let texts = [PNGTextChunk(keyword: "parameters", text: "a cat\nSteps: 20, Seed: 42"),
                     PNGTextChunk(keyword: "phosphor", text: "{\"prompt\": \"日本の猫\"}")]
        try PNG.write(image, texts: texts, to: path)
        let back = try PNG.read(path: path)
        #expect(back.rgb8(keepAlpha: true) == image)
        #expect(back.text("parameters") == "a cat\nSteps: 20, Seed: 42")
        #expect(back.text("phosphor") == "{\"prompt\": \"日本の猫\"}")
        // Latin-1 text goes into tEXt (as A1111/PIL write it); other text into UTF-8 iTXt.
        #expect(back.texts.first { $0.keyword == "parameters" }?.international == false)
        #expect(back.texts.first { $0.keyword == "phosphor" }?.international == true)
    }

    @Test func neverOverwritesUnlessAsked() throws {
        let path = dir + "/keep.png"
        let first = try gradient(4, 4, channels: 3), second = try gradient(5, 5, channels: 3)
        try PNG.write(first, to: path)
        #expect(throws: ImageIOError.cannotWrite(path: path, reason: "file exists (refusing to overwrite)")) {
            try PNG.write(second, to: path)
        }
        #expect(try PNG.read(path: path).width == 4)
        try PNG.write(second, to: path, overwrite: true)
        #expect(try PNG.read(path: path).width == 5)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keep.png"])
    }

    @Test func unwritableFolderGivesClearError() throws {
        let path = dir + "/no/such/folder/x.png"
        do {
            try PNG.write(try gradient(2, 2, channels: 3), to: path)
            Issue.record("write into a missing folder succeeded")
        } catch let error as ImageIOError {
            #expect(error.description.hasPrefix(path + ": cannot write image:"))
        }
    }

    @Test func invalidImagesAndKeywordsAreRefused() throws {
        #expect(throws: ImageIOError.self) { try RGBImage(width: 2, height: 2, channels: 3, pixels: [0, 1]) }
        #expect(throws: ImageIOError.self) { try RGBImage(width: 0, height: 2, channels: 3, pixels: []) }
        let img = try gradient(2, 2, channels: 3)
        #expect(throws: ImageIOError.self) { try PNG.encode(img, texts: [PNGTextChunk(keyword: "", text: "x")]) }
    }
}

@Suite struct PNGCorruptionTests {
    let dir = Fixtures.temporaryFolder()

    func readError(_ bytes: [UInt8]) throws -> ImageIOError? {
        let path = dir + "/bad.png"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do { _ = try PNG.read(path: path); return nil } catch { return error as? ImageIOError }
    }

    @Test func truncatedPNGAtEveryLength() throws {
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("png/rgba8.png"))))
        // Every prefix that cuts into the image data or earlier must fail cleanly.
        for length in stride(from: 0, to: good.count - 12, by: 3) {
            let e = try readError(Array(good.prefix(length)))
            guard case .corrupt(let path, _)? = e else { Issue.record("prefix \(length): \(String(describing: e))"); continue }
            #expect(path.hasSuffix("bad.png"))
        }
    }

    @Test func randomBytesAndDamagedChunks() throws {
        var state: UInt64 = 7
        func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(state >> 56) }
        for _ in 0..<50 {
            let e = try readError((0..<300).map { _ in next() })
            #expect(e?.description.contains("not a PNG file") == true)
        }
        // A real signature followed by garbage, and a good file with flipped bytes (CRC/zlib errors).
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("png/rgb8.png"))))
        #expect(try readError(Array(good.prefix(8)) + (0..<200).map { _ in next() }) != nil)
        for offset in stride(from: 12, to: good.count - 12, by: 11) {
            var damaged = good
            damaged[offset] ^= 0x5a
            // Damage in an ancillary chunk may be tolerated by libpng; it must never crash.
            _ = try readError(damaged)
        }
    }

    @Test func missingFile() throws {
        let path = dir + "/absent.png"
        #expect(throws: ImageIOError.cannotRead(path: path, reason: "no such file")) { try PNG.read(path: path) }
    }
}
