import Foundation
/// Winograd F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks") for 3×3, stride 1,
/// padding 1 convolutions: each 2×2 output tile from a 4×4 input tile with 16 multiplies instead of 36, done as 16
/// GEMMs [O × C]·[C × tiles] between the transforms V = Bᵀ d B (input), U = G g Gᵀ (weights) and Y = Aᵀ M A (output).
/// 2.25× fewer multiply-adds than direct convolution; tiles are processed in chunks to bound the scratch memory.
/// The FLOP counter is given the direct-convolution count, so effective GFLOP/s stay comparable.
///
/// Opt-in ($PHOSPHOR_WINOGRAD=1): measured with `phosphor bench sd` on 2 cores it is not faster than the im2col
/// GEMM yet (U-Net step about equal, VAE decode slower): the scalar transforms and the per-call weight transform
/// (16·O·C values) are memory-bound. Next: vectorised transforms over a channel-blocked layout, the transformed
/// weights kept per layer, F(4×4, 3×3).
extension Tensor {
    /// Whether conv2d takes the Winograd path for these shapes (3×3, stride 1, padding 1, channels ≥ 64 both ways,
    /// at least $PHOSPHOR_WINOGRAD_TILES (512) tiles; only with $PHOSPHOR_WINOGRAD=1).
    static func useWinograd(n: Int, c: Int, o: Int, h: Int, w: Int, kh: Int, kw: Int, options: Conv2dOptions) -> Bool {
        // Enough tiles to amortise the weight transform (16·O·C values written per call).
        kh == 3 && kw == 3 && options.stride == (1, 1) && options.padding == (1, 1) && c >= 64 && o >= 64
            && n * ((h + 1) / 2) * ((w + 1) / 2) >= winogradMinTiles && winogradEnabled
    }

    nonisolated(unsafe) static let winogradMinTiles: Int = getenv("PHOSPHOR_WINOGRAD_TILES").flatMap { Int(String(cString: $0)) } ?? 512

    nonisolated(unsafe) static let winogradEnabled: Bool = getenv("PHOSPHOR_WINOGRAD").map { String(cString: $0) == "1" } ?? false

    /// The Winograd F(2×2, 3×3) convolution itself (3×3, stride 1, padding 1), whatever `conv2d` would choose.
    public func conv2dWinograd3x3(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1] && weight.shape[2] == 3 && weight.shape[3] == 3,
                     "Winograd 3×3 needs NCHW input and O×C×3×3 weight, got \(shape), \(weight.shape)")
        let out = Tensor.empty([shape[0], weight.shape[0], shape[2], shape[3]])
        contiguous().winogradConv3x3(weight: weight.contiguous(), bias: bias, out: out)
        return out
    }

    func winogradConv3x3(weight wt: Tensor, bias: Tensor?, out: Tensor) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let o = wt.shape[0]
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * n * o * c * 9 * h * w) }
        // U = G g Gᵀ: [16][O][C].
        let u = Tensor.empty([16, o, c])
        let g = wt.pointer, up = u.pointer
        let stride = o * c
        Parallel.forRanges(o * c, minChunk: 256) { r in
            for oc in r {
                let k = g + oc * 9
                // G g (4 rows × 3), then each row · Gᵀ.
                for i in 0..<4 {
                    let q0: Float, q1: Float, q2: Float
                    switch i {
                    case 0: (q0, q1, q2) = (k[0], k[1], k[2])
                    case 1: (q0, q1, q2) = ((k[0] + k[3] + k[6]) * 0.5, (k[1] + k[4] + k[7]) * 0.5, (k[2] + k[5] + k[8]) * 0.5)
                    case 2: (q0, q1, q2) = ((k[0] - k[3] + k[6]) * 0.5, (k[1] - k[4] + k[7]) * 0.5, (k[2] - k[5] + k[8]) * 0.5)
                    default: (q0, q1, q2) = (k[6], k[7], k[8])
                    }
                    let row = up + i * 4 * stride + oc
                    row[0] = q0
                    row[stride] = (q0 + q1 + q2) * 0.5
                    row[2 * stride] = (q0 - q1 + q2) * 0.5
                    row[3 * stride] = q2
                }
            }
        }
        let th = (h + 1) / 2, tw = (w + 1) / 2, tiles = th * tw
        // Chunk of tiles so V and M (16·(C+O)·chunk floats) stay near 8 M floats.
        let chunk = min(tiles, max(64, (8 << 20) / (16 * (c + o))))
        let v = Tensor.empty([16, c, chunk]), m = Tensor.empty([16, o, chunk])
        let biasValues = bias.map { $0.contiguous().toArray() }
        for img in 0..<n {
            let src = pointer + img * c * h * w
            let dst = out.pointer + img * o * h * w
            var t0 = 0
            while t0 < tiles {
                let count = min(chunk, tiles - t0)
                let vp = v.pointer
                // V = Bᵀ d B for every channel and tile of the chunk.
                Parallel.forRanges(c, minChunk: 1) { r in
                    let d = UnsafeMutablePointer<Float>.allocate(capacity: 16)
                    defer { d.deallocate() }
                    let plane16 = c * chunk
                    for ci in r {
                        let plane = src + ci * h * w
                        for t in 0..<count {
                            let ty = (t0 + t) / tw, tx = (t0 + t) % tw
                            let y0 = 2 * ty - 1, x0 = 2 * tx - 1
                            if y0 >= 0 && x0 >= 0 && y0 + 3 < h && x0 + 3 < w {
                                for i in 0..<4 {
                                    let line = plane + (y0 + i) * w + x0
                                    d[i * 4] = line[0]; d[i * 4 + 1] = line[1]; d[i * 4 + 2] = line[2]; d[i * 4 + 3] = line[3]
                                }
                            } else {
                                for i in 0..<4 {
                                    let y = y0 + i
                                    for j in 0..<4 {
                                        let x = x0 + j
                                        d[i * 4 + j] = (y >= 0 && y < h && x >= 0 && x < w) ? plane[y * w + x] : 0
                                    }
                                }
                            }
                            // Bᵀ d (rows), then · B (columns).
                            for j in 0..<4 {
                                let (a0, a1, a2, a3) = (d[j], d[4 + j], d[8 + j], d[12 + j])
                                d[j] = a0 - a2; d[4 + j] = a1 + a2; d[8 + j] = a2 - a1; d[12 + j] = a1 - a3
                            }
                            let base = vp + ci * chunk + t
                            for i in 0..<4 {
                                let (a0, a1, a2, a3) = (d[i * 4], d[i * 4 + 1], d[i * 4 + 2], d[i * 4 + 3])
                                let row = base + i * 4 * plane16
                                row[0] = a0 - a2
                                row[plane16] = a1 + a2
                                row[2 * plane16] = a2 - a1
                                row[3 * plane16] = a1 - a3
                            }
                        }
                    }
                }
                for xi in 0..<16 {
                    BLAS.sgemmUncounted(m: o, n: count, k: c, a: up + xi * o * c, lda: c, b: vp + xi * c * chunk, ldb: chunk,
                                        c: m.pointer + xi * o * chunk, ldc: chunk)
                }
                // Y = Aᵀ M A, plus bias, into the output (the last row/column of odd sizes dropped).
                let mp = m.pointer
                Parallel.forRanges(o, minChunk: 1) { r in
                    for oi in r {
                        let b = biasValues?[oi] ?? 0
                        let plane = dst + oi * h * w
                        for t in 0..<count {
                            let ty = (t0 + t) / tw, tx = (t0 + t) % tw
                            var s = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
                            @inline(__always) func at(_ i: Int, _ j: Int) -> Float { mp[(i * 4 + j) * o * chunk + oi * chunk + t] }
                            // Aᵀ m: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (row vectors over j).
                            s.0 = at(0, 0) + at(1, 0) + at(2, 0); s.1 = at(0, 1) + at(1, 1) + at(2, 1)
                            s.2 = at(0, 2) + at(1, 2) + at(2, 2); s.3 = at(0, 3) + at(1, 3) + at(2, 3)
                            s.4 = at(1, 0) - at(2, 0) - at(3, 0); s.5 = at(1, 1) - at(2, 1) - at(3, 1)
                            s.6 = at(1, 2) - at(2, 2) - at(3, 2); s.7 = at(1, 3) - at(2, 3) - at(3, 3)
                            let y00 = s.0 + s.1 + s.2 + b, y01 = s.1 - s.2 - s.3 + b
                            let y10 = s.4 + s.5 + s.6 + b, y11 = s.5 - s.6 - s.7 + b
                            let y = 2 * ty, x = 2 * tx
                            plane[y * w + x] = y00
                            if x + 1 < w { plane[y * w + x + 1] = y01 }
                            if y + 1 < h {
                                plane[(y + 1) * w + x] = y10
                                if x + 1 < w { plane[(y + 1) * w + x + 1] = y11 }
                            }
                        }
                    }
                }
                t0 += count
            }
        }
    }
}
