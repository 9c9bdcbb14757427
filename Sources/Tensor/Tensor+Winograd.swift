import CKernels
import Foundation

/// Winograd F(4×4, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks") for 3×3, stride 1,
/// padding 1 convolutions: each 4×4 output tile from a 6×6 input tile with 36 multiplies instead of 144, done as 36
/// GEMMs [O × C]·[C × tiles] between the transforms V = Bᵀ d B (input), U = G g Gᵀ (weights) and Y = Aᵀ M A
/// (output), written in C (`pk_wino43_*`, vectorised over 16 tiles, one clone per SIMD level). 4× fewer
/// multiply-adds than direct convolution; the weight transform is redone per call, for big weights block by block of
/// output channels (36·O·C values: caching it would cost 8× an fp16 model's weights), so small images (few tiles)
/// keep the im2col GEMM. Tiles of all images in the batch share the GEMMs, processed in chunks that bound the scratch
/// memory. The FLOP counter is given the direct-convolution count, so effective GFLOP/s stay comparable. Error against
/// direct convolution: see `phosphor bench ops` (max |Winograd − direct| ÷ max |direct|: 7e-6 to 1.3e-5 at U-Net and
/// VAE shapes) and the torch fixtures.
extension Tensor {
    /// Whether conv2d takes the Winograd path: 3×3, stride 1, padding 1, at least 32 channels both ways and at least
    /// `winogradMinTiles` (32) 4×4 output tiles in the batch — `phosphor bench ops` on 2 cores: about 2× faster than
    /// the im2col GEMM from 128 tiles; at 32 (SD's 16² level, batch 2) 1.4–2× faster than the fp16-weight im2col
    /// kernel since the weight transform goes by blocks; slower at 8 (where the weight transform outweighs the savings).
    /// `PHOSPHOR_WINOGRAD=0` turns it off, `=1` ignores the tile minimum; `PHOSPHOR_WINOGRAD_TILES` sets the minimum.
    static func useWinograd(n: Int, c: Int, o: Int, h: Int, w: Int, kh: Int, kw: Int, options: Conv2dOptions) -> Bool {
        if pthread_getspecific(winogradOffKey) != nil { return false }
        // In bf16 the transforms' rounding compounds: 4–6 % of the output's range (bench ops) against ~0.3 % direct.
        if BF16Compute.enabled { return false }
        guard winogradMode != "0", kh == 3 && kw == 3 && options.stride == (1, 1) && options.padding == (1, 1),
              c >= 32 && o >= 32 else { return false }
        return winogradMode == "1" || n * ((h + 3) / 4) * ((w + 3) / 4) >= winogradMinTiles
    }

    static let winogradMinTiles: Int = getenv("PHOSPHOR_WINOGRAD_TILES").flatMap { Int(String(cString: $0)) } ?? 32

    /// Set on a thread inside `withWinograd(false)`.
    private static let winogradOffKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with the Winograd path allowed (as configured) or turned off on this thread, e.g. to time the
    /// im2col GEMM (other threads keep their choice).
    public static func withWinograd<T>(_ allowed: Bool, _ body: () throws -> T) rethrows -> T {
        let saved = pthread_getspecific(winogradOffKey)
        pthread_setspecific(winogradOffKey, allowed ? nil : UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(winogradOffKey, saved) }
        return try body()
    }

    static let winogradMode: String = getenv("PHOSPHOR_WINOGRAD").map { String(cString: $0) } ?? ""

    /// The Winograd F(4×4, 3×3) convolution itself (3×3, stride 1, padding 1), whatever `conv2d` would choose.
    /// `wholeWeightFloats` (tests): where the weight transform goes whole or by blocks (`winogradWholeWeightFloats`).
    public func conv2dWinograd3x3(weight: Tensor, bias: Tensor? = nil, wholeWeightFloats: Int = winogradWholeWeightFloats) -> Tensor {
        let w = weight.contiguous()
        defer { withExtendedLifetime(w) {} }
        return winograd3x3(weightShape: w.shape, weights: UnsafeRawPointer(w.pointer), half: false, bias: bias,
                           wholeWeightFloats: wholeWeightFloats)
    }

    /// The Winograd convolution with the weight as stored: fp16 weights widened inside the weight transform.
    public func conv2dWinograd3x3(packedWeight: PackedTensor, bias: Tensor? = nil,
                                  wholeWeightFloats: Int = winogradWholeWeightFloats) -> Tensor {
        guard packedWeight.dtype == .f16 else {
            return conv2dWinograd3x3(weight: packedWeight.unpacked(), bias: bias, wholeWeightFloats: wholeWeightFloats)
        }
        defer { withExtendedLifetime(packedWeight.owner) {} }
        return winograd3x3(weightShape: packedWeight.shape, weights: packedWeight.raw, half: true, bias: bias,
                           wholeWeightFloats: wholeWeightFloats)
    }

    /// The two public entry points' shared checks and output.
    private func winograd3x3(weightShape ws: [Int], weights: UnsafeRawPointer, half: Bool, bias: Tensor?,
                             wholeWeightFloats: Int) -> Tensor {
        precondition(rank == 4 && ws.count == 4 && ws[1] == shape[1] && ws[2] == 3 && ws[3] == 3,
                     "Winograd 3×3 needs NCHW input and O×C×3×3 weight, got \(shape), \(ws)")
        let out = Tensor.empty([shape[0], ws[0], shape[2], shape[3]])
        contiguous().winogradConv3x3(weights: weights, half: half, bias: bias, out: out, wholeWeightFloats: wholeWeightFloats)
        return out
    }

    /// Output channels per block of `winogradConv3x3`: each block's transformed weights (36·block·C floats) stay near
    /// 2 M floats (8 MB), in at least two blocks per worker, multiples of 16.
    static func winogradOutputBlock(outChannels o: Int, inChannels c: Int, workers: Int) -> Int {
        let wanted = max(2 * workers, (36 * o * c + (2 << 20) - 1) / (2 << 20))
        return min(o, ((o + wanted - 1) / wanted + 15) / 16 * 16)
    }

    /// Transformed weights (36·O·C floats) up to which `winogradConv3x3` transforms them whole and multiplies with
    /// all workers in each of the 36 products: 12 M floats (48 MB; SD's 320- and VAE's 512-channel layers). Above it,
    /// by blocks of output channels, one per worker.
    public static let winogradWholeWeightFloats = 12 << 20

    /// `weights`: O×C×3×3, IEEE half (`half`, widened inside the transform) or fp32, O = out's channels. Small weights
    /// (`winogradWholeWeightFloats`) are transformed whole and each product uses every worker (many tiles: the
    /// products' shared operand is packed once). Larger ones go in blocks of output channels (`winogradOutputBlock`),
    /// one per worker at a time: the worker transforms its block's weights into its own buffer, multiplies the 36
    /// products single-threaded and transforms the block's outputs, so the whole transformed weight is never held
    /// (236 MB for a 1280→1280 layer, on fresh pages every call: `phosphor bench ops` 1280 channels at 8² 2.3× faster,
    /// at 16² 1.2×).
    func winogradConv3x3(weights: UnsafeRawPointer, half: Bool, bias: Tensor?, out: Tensor,
                         wholeWeightFloats: Int = winogradWholeWeightFloats) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let o = out.shape[1]
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * n * o * c * 9 * h * w) }
        let tiles = n * ((h + 3) / 4) * ((w + 3) / 4)
        // Chunk of tiles so V and M (36·(C + O)·chunk floats) stay near 12 M floats (48 MB).
        let chunk = min(tiles, max(64, (12 << 20) / (36 * (c + o))))
        let v = Tensor.empty([36, c, chunk]), m = Tensor.empty([36, o, chunk])
        let whole = 36 * o * c <= wholeWeightFloats
        let workers = Parallel.threadCount
        let block = whole ? o : Tensor.winogradOutputBlock(outChannels: o, inChannels: c, workers: workers)
        let blocks = (o + block - 1) / block
        let u = Tensor.empty([whole ? 1 : min(workers, blocks), 36 * block * c])
        let slots = SlotPool(count: min(workers, blocks))
        let vp = v.pointer, mp = m.pointer, up = u.pointer, xp = pointer, yp = out.pointer
        let biasTensor = bias?.contiguous()
        if let biasTensor { precondition(biasTensor.count == o, "conv2d bias \(biasTensor.shape) for \(o) outputs") }
        let bp = biasTensor.map { UnsafePointer($0.pointer) }
        let halfFlag: Int32 = half ? 1 : 0
        let weightBytes = half ? 2 : 4
        if whole {
            Parallel.forRanges(o, minChunk: max(1, 4096 / max(c, 1))) { r in
                pk_wino43_weights(weights, halfFlag, c, r.lowerBound, r.upperBound, o, up)
            }
        }
        var t0 = 0
        while t0 < tiles {
            let count = min(chunk, tiles - t0)
            Parallel.forRanges(c, minChunk: 1) { r in
                pk_wino43_input(xp, c, h, w, r.lowerBound, r.upperBound, t0, count, vp, chunk)
            }
            if whole {
                for k in 0..<36 {
                    BLAS.sgemmUncounted(m: o, n: count, k: c, a: up + k * o * c, lda: c, b: vp + k * c * chunk, ldb: chunk,
                                        c: mp + k * o * chunk, ldc: chunk)
                }
                Parallel.forRanges(o, minChunk: 1) { r in
                    pk_wino43_output(mp, o, chunk, r.lowerBound, r.upperBound, t0, count, bp, yp, h, w)
                }
            } else {
                BLAS.singleThreaded {
                    Parallel.forEach(blocks) { b in
                        let slot = slots.acquire()
                        defer { slots.release(slot) }
                        let o0 = b * block, rows = min(block, o - o0)
                        let ub = up + slot * 36 * block * c
                        pk_wino43_weights(weights + o0 * c * 9 * weightBytes, halfFlag, c, 0, rows, rows, ub)
                        for k in 0..<36 {
                            BLAS.sgemmUncounted(m: rows, n: count, k: c, a: ub + k * rows * c, lda: c, b: vp + k * c * chunk,
                                                ldb: chunk, c: mp + (k * o + o0) * chunk, ldc: chunk)
                        }
                        pk_wino43_output(mp, o, chunk, o0, o0 + rows, t0, count, bp, yp, h, w)
                    }
                }
            }
            t0 += count
        }
        withExtendedLifetime((u, v, m, biasTensor)) {}
    }
}
