import Foundation

/// Resampling as Pillow's `Image.resize(size, Image.LANCZOS)` does it for 8-bit images (libImaging/Resample.c):
/// a separable Lanczos-3 filter widened by the scale when shrinking (antialiased), coefficients normalised per
/// output pixel and rounded to 22-bit fixed point, the horizontal pass first into 8-bit rows (only the rows the
/// vertical pass reads), then the vertical pass. diffusers' VaeImageProcessor and A1111's "Just resize" both resize
/// starting images this way, so the same file gives the same latents.
extension RGBImage {
    public enum ResizeMode: String, Sendable, CaseIterable {
        /// Stretch to the size (A1111 "Just resize", diffusers' default).
        case stretch
        /// Scale to cover the size keeping the aspect ratio, then centre-crop (A1111 "Crop and resize", diffusers "crop").
        case crop
    }

    /// The image at `width`×`height` (the same image when the size already matches).
    public func resized(width: Int, height: Int, mode: ResizeMode = .stretch) throws -> RGBImage {
        guard width > 0, height > 0 else { throw ImageIOError.invalidImage(detail: "size \(width)×\(height) is empty") }
        if width == self.width && height == self.height { return self }
        switch mode {
        case .stretch:
            return try lanczos(width: width, height: height)
        case .crop:
            // diffusers' _resize_and_crop: cover, then paste centred (integer arithmetic as there).
            let wide = width * self.height > self.width * height
            let coverW = wide ? width : self.width * height / self.height
            let coverH = wide ? self.height * width / self.width : height
            let cover = try lanczos(width: coverW, height: coverH)
            let x0 = coverW / 2 - width / 2, y0 = coverH / 2 - height / 2
            var out = [UInt8](repeating: 0, count: width * height * channels)
            for y in 0..<height {
                for x in 0..<width {
                    let sx = x + x0, sy = y + y0
                    guard sx >= 0, sx < coverW, sy >= 0, sy < coverH else { continue }
                    for c in 0..<channels { out[(y * width + x) * channels + c] = cover.pixels[(sy * coverW + sx) * channels + c] }
                }
            }
            return try RGBImage(width: width, height: height, channels: channels, pixels: out)
        }
    }

    func lanczos(width outW: Int, height outH: Int) throws -> RGBImage {
        let c = channels
        let horizontal = ResampleCoefficients(inSize: self.width, outSize: outW)
        let vertical = ResampleCoefficients(inSize: self.height, outSize: outH)
        // Rows the vertical pass reads.
        let firstRow = vertical.bounds[0].start
        let lastRow = vertical.bounds[outH - 1].start + vertical.bounds[outH - 1].count
        var rows = pixels, rowsW = self.width, rowOffset = 0, rowCount = self.height
        if outW != self.width {
            rowCount = lastRow - firstRow
            var tmp = [UInt8](repeating: 0, count: outW * rowCount * c)
            for y in 0..<rowCount {
                let src = (y + firstRow) * self.width * c
                for x in 0..<outW {
                    let (start, count) = horizontal.bounds[x]
                    let k = horizontal.fixed[x]
                    for ch in 0..<c {
                        var acc = Int64(1 << (ResampleCoefficients.bits - 1))
                        for j in 0..<count { acc += Int64(pixels[src + (start + j) * c + ch]) * Int64(k[j]) }
                        tmp[(y * outW + x) * c + ch] = ResampleCoefficients.clip8(acc)
                    }
                }
            }
            rows = tmp
            rowsW = outW
            rowOffset = firstRow
        }
        guard outH != self.height else { return try RGBImage(width: outW, height: outH, channels: c, pixels: rows) }
        var out = [UInt8](repeating: 0, count: outW * outH * c)
        for y in 0..<outH {
            let (start, count) = vertical.bounds[y]
            let k = vertical.fixed[y]
            for x in 0..<rowsW {
                for ch in 0..<c {
                    var acc = Int64(1 << (ResampleCoefficients.bits - 1))
                    for j in 0..<count { acc += Int64(rows[((start - rowOffset + j) * rowsW + x) * c + ch]) * Int64(k[j]) }
                    out[(y * outW + x) * c + ch] = ResampleCoefficients.clip8(acc)
                }
            }
        }
        _ = rowCount
        return try RGBImage(width: outW, height: outH, channels: c, pixels: out)
    }
}

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the Lanczos filter (support 3) over the whole axis.
struct ResampleCoefficients {
    static let bits = 32 - 8 - 2
    var bounds: [(start: Int, count: Int)] = []
    var fixed: [[Int32]] = []

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 3 * filterScale
        func sinc(_ x: Double) -> Double { x == 0 ? 1 : Foundation.sin(x * .pi) / (x * .pi) }
        func lanczos(_ x: Double) -> Double { (-3 <= x && x < 3) ? sinc(x) * sinc(x / 3) : 0 }
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            let start = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inSize)
            let inverse = 1 / filterScale
            var weights = (start..<max(end, start)).map { lanczos((Double($0) - center + 0.5) * inverse) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            bounds.append((start, max(end - start, 0)))
            fixed.append(weights.map { w in
                Int32(w < 0 ? (-0.5 + w * Double(1 << Self.bits)) : (0.5 + w * Double(1 << Self.bits)))
            })
        }
    }

    static func clip8(_ acc: Int64) -> UInt8 {
        let v = acc >> Int64(bits)
        return UInt8(min(max(v, 0), 255))
    }
}
