import ImageIO
import Testing
import TestSupport

/// Pillow's LANCZOS resize and diffusers' crop mode, pixel for pixel (make_fixtures.py resize_fixtures).
@Suite struct ResizeTests {
    let fx: FixtureFile
    let source: RGBImage
    init() throws {
        fx = try FixtureFile("resize.safetensors")
        source = try PNG.read(path: Fixtures.path("png/resize_src.png")).rgb8()
    }

    func pixels(_ case_: String, _ key: String) throws -> [UInt8] {
        try fx.tensor(case_, key).toArray().map { UInt8($0) }
    }

    @Test(arguments: [(64, 48), (16, 12), (50, 50), (23, 37), (37, 8), (9, 23)])
    func stretchMatchesPillow(_ size: (Int, Int)) throws {
        let out = try source.resized(width: size.0, height: size.1)
        #expect(out.width == size.0 && out.height == size.1)
        #expect(out.pixels == (try pixels("stretch", "\(size.0)x\(size.1)")))
    }

    @Test(arguments: [(32, 32), (64, 16), (16, 64)])
    func cropMatchesDiffusers(_ size: (Int, Int)) throws {
        let out = try source.resized(width: size.0, height: size.1, mode: .crop)
        #expect(out.pixels == (try pixels("crop", "\(size.0)x\(size.1)")))
    }

    @Test func sameSizeIsTheSameImage() throws {
        #expect(try source.resized(width: source.width, height: source.height) == source)
        #expect(throws: ImageIOError.self) { try source.resized(width: 0, height: 4) }
    }
}
