import CKernels
import Foundation

/// Winograd F(m×m, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks") for 3×3, stride 1,
/// padding 1 convolutions, with output tiles of m = 4 or 6 (`WinogradTile`): each m×m output tile from an (m + 2)²
/// input tile with (m + 2)² multiplies instead of 9·m² (F(4,3) 36 for 144, F(6,3) 64 for 324), done as (m + 2)² GEMMs
/// [O × C]·[C × tiles] between the transforms V = Bᵀ d B (input), U = G g Gᵀ (weights) and Y = Aᵀ M A (output),
/// written in C (`winograd.c`, vectorised over 16 tiles or channels, one clone per SIMD level). The GEMMs run on the
/// fp32 register-tile kernel of `gemm_f16.c` with U and V written straight into its packed layouts (`winogradPacked`),
/// or on OpenBLAS (`winogradBLAS`: CPUs without AVX2, `PHOSPHOR_WINOGRAD_GEMM=blas`). 4× fewer multiply-adds than
/// direct convolution; the weight transform is redone per call, for big weights block by block of output channels
/// ((m + 2)²·O·C values: caching it would cost 8× an fp16 model's weights), so small images (few tiles) keep the im2col
/// GEMM. Tiles of all images in the batch share the GEMMs, processed in chunks that bound the scratch memory. The FLOP
/// counter is given the direct-convolution count, so effective GFLOP/s stay comparable. Error against direct
/// convolution: see `phosphor bench ops` (max |Winograd − direct| ÷ max |direct|: F(4,3) 7e-6 to 1.3e-5 at U-Net and
/// VAE shapes, F(6,3) 1e-5 to 2e-5) and the torch fixtures, which both tile sizes are tested against.
extension Tensor {
    /// Output tile side of a Winograd convolution.
    public enum WinogradTile: Int, Sendable, CaseIterable {
        case f4 = 4, f6 = 6
        /// Transformed points per tile, the number of GEMMs: (m + 2)².
        public var points: Int { (rawValue + 2) * (rawValue + 2) }
        /// Tiles covering an n×h×w output.
        public func tiles(n: Int, h: Int, w: Int) -> Int { n * ((h + rawValue - 1) / rawValue) * ((w + rawValue - 1) / rawValue) }
    }

    /// The tile size conv2d's Winograd path takes for a 3×3, stride-1, padding-1 convolution of an n×c×h×w input into
    /// o channels, or nil for im2col: at least 32 channels both ways and at least 32 4×4 output tiles in the batch
    /// (8 for small weights: `smallWeightProduct`) — `phosphor bench ops` on 2 cores: about 2× faster than the im2col GEMM from 128 tiles; at 32
    /// (SD's 16² level, batch 2) 1.4–2× faster than the fp16-weight im2col kernel since the weight transform goes by
    /// blocks; slower at 8 (where the weight transform outweighs the savings; F(2,3), one whole strip of 32 tiles
    /// there, measured level with the fp16 im2col kernel: 0.021 against 0.020 s, and was dropped).
    /// F(6,3) where it measured faster (`bench ops`, each size on the same shapes, six runs, 2026-11-27): planes of at
    /// least 256² with at most 256 channels — the VAE decoder's two top levels (256 ch at 256²: mean 0.132 s against
    /// 0.142 s, faster in 3 of 6 runs; 128 ch at 512²: 0.195 against 0.217, 5 of 6; a whole 512 px decode alternated
    /// with all-F(4,3) in one process: 1.6 % and 6 % faster). Elsewhere its products save less than its costlier
    /// transforms take: SD's
    /// 64² level 0.034 against 0.033 s (fp16 weights 0.036 against 0.026), the VAE's 512 ch at 128² 0.142 against
    /// 0.128; at 32² and 16² its partial tiles (36 for 32) waste what it saves.
    /// `PHOSPHOR_WINOGRAD=0` turns the path off, `=1` ignores the tile minimum; `PHOSPHOR_WINOGRAD_TILES` sets the
    /// minimum, `PHOSPHOR_WINOGRAD_TILE=4|6` fixes the tile size (as `withWinogradTile` does for one thread).
    static func winogradTile(n: Int, c: Int, o: Int, h: Int, w: Int, kh: Int, kw: Int, options: Conv2dOptions) -> WinogradTile? {
        if winogradAllowed.value == false { return nil }
        // In bf16 the transforms' rounding compounds: 4–6 % of the output's range (bench ops) against ~0.3 % direct.
        if BF16Compute.enabled { return nil }
        guard winogradMode != "0", kh == 3 && kw == 3 && options.stride == (1, 1) && options.padding == (1, 1),
              c >= 32 && o >= 32 else { return nil }
        let minimum = winogradMinTiles ?? (o * c <= smallWeightProduct ? 8 : 32)
        guard winogradMode == "1" || WinogradTile.f4.tiles(n: n, h: h, w: w) >= minimum else { return nil }
        if let fixed = winogradTileOverride.value ?? winogradFixedTile { return fixed }
        return h * w >= 256 * 256 && c <= 256 && o <= 256 ? .f6 : .f4
    }

    /// `PHOSPHOR_WINOGRAD_TILES`: the tile minimum for every weight (A/B runs); unset, 32, or 8 for small weights.
    static let winogradMinTiles: Int? = getenv("PHOSPHOR_WINOGRAD_TILES").flatMap { Int(String(cString: $0)) }

    /// Weights of at most this many output × input channels (the default model's: 64–160 channels, 160 × 320 with a
    /// skip) take Winograd from 8 tiles: their transformed weights stay in cache. Against 32 (the register-tile im2col
    /// path below), the default model's sampling (`bench model`, 2 cores, 6 alternations): plain prompt 0.96 s against
    /// 1.00 (faster in 5 of 6), relation prompt 1.87 against 1.84 (level; an earlier 4 had 1.89 median against 2.01).
    /// SD's weights (320–1280 channels) keep 32.
    static let smallWeightProduct = 256 * 256

    static let winogradFixedTile: WinogradTile? =
        getenv("PHOSPHOR_WINOGRAD_TILE").flatMap { Int(String(cString: $0)) }.flatMap(WinogradTile.init(rawValue:))

    private static let winogradTileOverride = ThreadOverride<WinogradTile>()

    /// Runs `body` with every Winograd convolution conv2d takes on this thread using `tile` (A/B runs:
    /// `phosphor bench sd --alternate winograd-f4`).
    public static func withWinogradTile<T>(_ tile: WinogradTile, _ body: () throws -> T) rethrows -> T {
        try winogradTileOverride.with(tile, body)
    }

    /// What conv2d does with a 3×3, stride-1, padding-1 convolution of this shape on this thread: "F(m,3)" or "im2col"
    /// (`phosphor bench ops`).
    public static func winogradChoice(batch: Int, channels: Int, outputs: Int, size: Int) -> String {
        winogradTile(n: batch, c: channels, o: outputs, h: size, w: size, kh: 3, kw: 3, options: Conv2dOptions(stride: 1, padding: 1))
            .map { "F(\($0.rawValue),3)" } ?? "im2col"
    }

    /// This thread's `withWinograd` choice.
    private static let winogradAllowed = ThreadOverride<Bool>()

    /// Runs `body` with the Winograd path allowed (as configured) or turned off on this thread, e.g. to time the
    /// im2col GEMM (other threads keep their choice).
    public static func withWinograd<T>(_ allowed: Bool, _ body: () throws -> T) rethrows -> T {
        try winogradAllowed.with(allowed, body)
    }

    /// The kernel of Winograd's products: the fp16 GEMM's register tiles where the CPU has them
    /// (`HalfWeightKernel.preferred`), else OpenBLAS; `PHOSPHOR_WINOGRAD_GEMM=blas|avx512|avx2` picks one (A/B runs).
    public static let winogradProducts: HalfWeightKernel =
        getenv("PHOSPHOR_WINOGRAD_GEMM").flatMap { HalfWeightKernel(rawValue: String(cString: $0)) }
            .flatMap { HalfWeightKernel.available.contains($0) ? $0 : nil } ?? .preferred

    /// The products' kernel on this thread: `winogradProducts` unless inside `withWinogradProducts`.
    public static var currentWinogradProducts: HalfWeightKernel {
        winogradProductsOverride.value ?? winogradProducts
    }

    private static let winogradProductsOverride = ThreadOverride<HalfWeightKernel>()

    /// Runs `body` with this thread's Winograd products on `kernel` (one of `HalfWeightKernel.available`), e.g. to
    /// alternate kernels in one process (`phosphor bench sd --alternate winograd-blas`).
    public static func withWinogradProducts<T>(_ kernel: HalfWeightKernel, _ body: () throws -> T) rethrows -> T {
        precondition(HalfWeightKernel.available.contains(kernel), "\(kernel) does not run on this CPU")
        return try winogradProductsOverride.with(kernel, body)
    }

    /// Whether the transforms gather and store through AVX-512 registers (16 × 8 transposes) or value by value — the
    /// CPU's support unless `PHOSPHOR_WINOGRAD_TRANSPOSE=scalar` (`withWinogradVectorTransforms` switches the whole
    /// process: tests, A/B runs); both ways give the same values bit for bit. Value by value the input transform's
    /// gather was bound by its stores (36 per tile and channel for F(4,3)); in registers the default model's three
    /// transforms went from 23 % to 17–18 % of a `generate`'s perf samples.
    public static var winogradVectorTransforms: Bool { pk_wino_vector_transforms() != 0 }

    /// Runs `body` with `winogradVectorTransforms` set for the whole process (true: where the CPU has AVX-512), then
    /// back to the CPU's and environment's choice.
    public static func withWinogradVectorTransforms<T>(_ enabled: Bool, _ body: () throws -> T) rethrows -> T {
        pk_wino_set_vector_transforms(enabled ? 1 : 0)
        defer { pk_wino_set_vector_transforms(-1) }
        return try body()
    }

    static let winogradMode: String = getenv("PHOSPHOR_WINOGRAD").map { String(cString: $0) } ?? ""

    /// The Winograd convolution itself (3×3, stride 1, padding 1), whatever `conv2d` would choose. `tile`: the
    /// output tile (default F(4,3)); `weightTransform` (tests): whole or by blocks of output channels
    /// (`WinogradWeights`); `products`: the products' kernel (`winogradConv3x3`; default `currentWinogradProducts`).
    public func conv2dWinograd3x3(weight: Tensor, bias: Tensor? = nil, tile: WinogradTile = .f4,
                                  weightTransform: WinogradWeights = .automatic, products: HalfWeightKernel? = nil) -> Tensor {
        let w = weight.contiguous()
        defer { withExtendedLifetime(w) {} }
        return winograd3x3(weightShape: w.shape, weights: UnsafeRawPointer(w.pointer), half: false, bias: bias, tile: tile,
                           weightTransform: weightTransform, products: products)
    }

    /// The Winograd convolution with the weight as stored: fp16 weights widened inside the weight transform.
    public func conv2dWinograd3x3(packedWeight: PackedTensor, bias: Tensor? = nil, tile: WinogradTile = .f4,
                                  weightTransform: WinogradWeights = .automatic,
                                  products: HalfWeightKernel? = nil) -> Tensor {
        guard packedWeight.dtype == .f16 else {
            return conv2dWinograd3x3(weight: packedWeight.unpacked(), bias: bias, tile: tile,
                                     weightTransform: weightTransform, products: products)
        }
        defer { withExtendedLifetime(packedWeight.owner) {} }
        return winograd3x3(weightShape: packedWeight.shape, weights: packedWeight.raw, half: true, bias: bias, tile: tile,
                           weightTransform: weightTransform, products: products)
    }

    /// The two public entry points' shared checks and output.
    private func winograd3x3(weightShape ws: [Int], weights: UnsafeRawPointer, half: Bool, bias: Tensor?,
                             tile: WinogradTile, weightTransform: WinogradWeights, products: HalfWeightKernel?) -> Tensor {
        precondition(rank == 4 && ws.count == 4 && ws[1] == shape[1] && ws[2] == 3 && ws[3] == 3,
                     "Winograd 3×3 needs NCHW input and O×C×3×3 weight, got \(shape), \(ws)")
        let out = Tensor.empty([shape[0], ws[0], shape[2], shape[3]])
        contiguous().winogradConv3x3(weights: weights, half: half, bias: bias, out: out, tile: tile,
                                     weightTransform: weightTransform, products: products)
        return out
    }

    /// Whether the weight transform goes whole (points·O·C floats held at once, then the products, each over all tiles)
    /// or by blocks of output channels, one block per worker at a time (transform, products, output transform).
    public enum WinogradWeights: Sendable {
        /// The measured choice for the products' kernel (`winogradTransformsWhole`).
        case automatic
        case whole, blocked
    }

    /// The automatic choice. OpenBLAS: whole up to 12 M transformed floats (48 MB; SD's 320- and VAE's 512-channel
    /// layers), each product using all workers. Register tiles: whole only with many tiles (≥ 256) and up to 16 M
    /// floats (SD's 64² level, the VAE) — with few tiles, blocks whose weights stay in cache were faster even for
    /// small weights (variants alternated in one process: 640→640 at 32²×2 0.026–0.028 s blocked, 0.033 s whole;
    /// 1280→1280 at 16²×2 0.030–0.038 s against 0.058–0.066 s), with many whole was (640→640 at 64²×2 0.111 s
    /// against 0.131–0.139 s).
    /// Pixels rather than tiles since F(2,3) to F(6,3): 256 tiles of 4×4 are 4096 outputs.
    static func winogradTransformsWhole(_ choice: WinogradWeights, products: HalfWeightKernel, points: Int, inChannels c: Int,
                                        outChannels o: Int, pixels: Int) -> Bool {
        switch choice {
        case .whole: return true
        case .blocked: return false
        case .automatic:
            return products == .blas ? points * o * c <= 12 << 20 : pixels >= 4096 && points * o * c <= 16 << 20
        }
    }

    /// `weights`: O×C×3×3, IEEE half (`half`, widened inside the transform) or fp32, O = out's channels. `products`
    /// (default: `currentWinogradProducts`): the kernel of the products — the fp16 GEMM's register tiles
    /// (`winogradPacked`, AVX-512 or AVX2) or OpenBLAS's sgemm (`blas`, and CPUs with neither).
    func winogradConv3x3(weights: UnsafeRawPointer, half: Bool, bias: Tensor?, out: Tensor, tile: WinogradTile,
                         weightTransform: WinogradWeights = .automatic, products chosen: HalfWeightKernel? = nil) {
        let products = chosen ?? Tensor.currentWinogradProducts
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let o = out.shape[1]
        let whole = Tensor.winogradTransformsWhole(weightTransform, products: products, points: tile.points, inChannels: c,
                                                   outChannels: o, pixels: n * h * w)
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * n * o * c * 9 * h * w) }
        let biasTensor = bias?.contiguous()
        if let biasTensor { precondition(biasTensor.count == o, "conv2d bias \(biasTensor.shape) for \(o) outputs") }
        let bp = biasTensor.map { UnsafePointer($0.pointer) }
        if products == .blas {
            winogradBLAS(weights: weights, half: half, bias: bp, out: out, tile: tile, whole: whole)
        } else {
            winogradPacked(weights: weights, half: half, bias: bp, out: out, tile: tile, whole: whole, level: products.level)
        }
        withExtendedLifetime(biasTensor) {}
    }

    /// Floats between one transformed point's U, V or M and the next beyond their size (`winogradPacked`): one cache
    /// line, so the (m + 2)² points' rows, which the transforms write side by side, do not share L1 sets when a point's
    /// size is a whole number of pages (SD's and the default model's shapes mostly are: F(4,3)'s weight transform at
    /// 160 channels measured 15 ns per weight without it, 8.5–9.5 with it, in a C harness).
    static let winogradPointPad = 16

    /// Output channels per block of `winogradPacked`'s blocked path: a multiple of both kernels' register rows (12 and
    /// 6); 24 to 96 measured within noise of each other at SD's shapes.
    static let winogradBlockRows = 48

    /// The products on the fp16 GEMM's micro-kernel (`pk_wino_products`), fed directly: the transforms write U as its
    /// A panels ([12 rows][384]) and V as its B strips ([C][32 tiles]), so nothing is repacked (OpenBLAS copied both
    /// operands of every product: a third of its time in a 512 px U-Net step). Whole: the weights transformed at once,
    /// the workers split the points. Blocked: blocks of 48 output channels, one per worker at a time, in steps of at
    /// most 384 input channels: transform that part of the weights (36·48·384 floats, 2.6 MB, for F(4,3)), multiply it
    /// with all points, accumulate; then the block's output transform.
    private func winogradPacked(weights: UnsafeRawPointer, half: Bool, bias: UnsafePointer<Float>?, out: Tensor,
                                tile: WinogradTile, whole: Bool, level: Int32) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let o = out.shape[1]
        let mr = Int(pk_gemm_f16_rows(level)), nr = Int(pk_gemm_f16_columns(level)), kc = Int(pk_gemm_f16_inner_block())
        let tiles = tile.tiles(n: n, h: h, w: w), points = tile.points, tile32 = Int32(tile.rawValue)
        // Chunk of tiles (whole strips) so V and M (points·(C + O)·chunk floats) stay near 12 M floats (48 MB).
        let chunk = (min(tiles, max(64, (12 << 20) / (points * (c + o)))) + nr - 1) / nr * nr
        let panels = (o + mr - 1) / mr, rowsM = panels * mr
        // Each point's V and M (and U below) one cache line past a whole number of pages: the transforms write
        // (m + 2)² points at once, and at a stride of whole pages their stores all fall in the same L1 sets.
        let vPlane = c * chunk + Tensor.winogradPointPad, mPlane = rowsM * chunk + Tensor.winogradPointPad
        let v = Tensor.empty([points * vPlane]), m = Tensor.empty([points * mPlane])
        let vp = v.pointer, mp = m.pointer, xp = pointer, yp = out.pointer
        let halfFlag: Int32 = half ? 1 : 0
        // Input-channel blocks: equal, at most kc wide.
        let cBlocks = (c + kc - 1) / kc, cStep = (c + cBlocks - 1) / cBlocks
        let panelFloats = mr * kc
        // Whole: U [points][c block][panel][mr][kc], transformed once here. Blocked: one [points][panel][mr][kc] buffer per
        // worker for its block's panels, refilled per block and input-channel block.
        let rows = Tensor.winogradBlockRows, blocks = (o + rows - 1) / rows
        let slotCount = whole ? 1 : min(Parallel.threadCount, blocks)
        let kStride = (whole ? cBlocks * panels : rows / mr) * panelFloats + Tensor.winogradPointPad
        let u = Tensor.empty([slotCount, points * kStride])
        let slots = SlotPool(count: slotCount)
        let up = u.pointer
        if whole {
            for cb in 0..<cBlocks {
                let c0 = cb * cStep, c1 = min(c, c0 + cStep)
                Parallel.forRanges(panels, minChunk: max(1, 4096 / max(c * mr, 1))) { r in
                    pk_wino_weights_packed(tile32, weights, halfFlag, c, r.lowerBound * mr, min(o, r.upperBound * mr), c0, c1,
                                             mr, kc, r.count * mr, up + (cb * panels + r.lowerBound) * panelFloats, kStride)
                }
            }
        }
        var t0 = 0
        while t0 < tiles {
            let count = min(chunk, tiles - t0), used = (count + nr - 1) / nr
            Parallel.forRanges(c, minChunk: 1) { r in
                pk_wino_input(tile32, xp, c, h, w, r.lowerBound, r.upperBound, t0, count, vp, chunk, nr, vPlane)
            }
            if whole {
                Parallel.forRanges(points, minChunk: 1) { r in
                    for cb in 0..<cBlocks {
                        let c0 = cb * cStep, width = min(c, c0 + cStep) - c0
                        pk_wino_products(level, r.lowerBound, r.upperBound, panels, used, width,
                                         up + cb * panels * panelFloats, kStride, vp + c0 * nr, vPlane, c * nr,
                                         mp, mPlane, chunk, cb > 0 ? 1 : 0)
                    }
                }
                Parallel.forRanges(o, minChunk: 1) { r in
                    pk_wino_output(tile32, mp, o, chunk, mPlane, r.lowerBound, r.upperBound, t0, count, bias, yp, h, w)
                }
            } else {
                Parallel.forEach(blocks) { b in
                    let slot = slots.acquire()
                    defer { slots.release(slot) }
                    let o0 = b * rows, o1 = min(o, o0 + rows), bp = (o1 - o0 + mr - 1) / mr
                    let ub = up + slot * points * kStride
                    for cb in 0..<cBlocks {
                        let c0 = cb * cStep, c1 = min(c, c0 + cStep)
                        pk_wino_weights_packed(tile32, weights, halfFlag, c, o0, o1, c0, c1, mr, kc, bp * mr, ub, kStride)
                        pk_wino_products(level, 0, points, bp, used, c1 - c0, ub, kStride, vp + c0 * nr, vPlane, c * nr,
                                         mp + o0 * chunk, mPlane, chunk, cb > 0 ? 1 : 0)
                    }
                    pk_wino_output(tile32, mp, o, chunk, mPlane, o0, o1, t0, count, bias, yp, h, w)
                }
            }
            t0 += count
        }
        withExtendedLifetime((u, v, m)) {}
    }

    /// Output channels per block of `winogradBLAS`: each block's transformed weights (points·block·C floats) stay near
    /// 2 M floats (8 MB), in at least two blocks per worker, multiples of 16.
    static func winogradOutputBlock(outChannels o: Int, inChannels c: Int, points: Int, workers: Int) -> Int {
        let wanted = max(2 * workers, (points * o * c + (2 << 20) - 1) / (2 << 20))
        return min(o, ((o + wanted - 1) / wanted + 15) / 16 * 16)
    }

    /// The products on OpenBLAS: small weights (`winogradTransformsWhole`) are transformed whole and each product
    /// uses every worker (many tiles: the products' shared operand is packed once). Larger ones go in blocks of
    /// output channels (`winogradOutputBlock`), one per worker at a time: the worker transforms its block's weights into
    /// its own buffer, multiplies the products single-threaded and transforms the block's outputs, so the whole
    /// transformed weight is never held (236 MB for a 1280→1280 layer, on fresh pages every call).
    private func winogradBLAS(weights: UnsafeRawPointer, half: Bool, bias bp: UnsafePointer<Float>?, out: Tensor,
                              tile: WinogradTile, whole: Bool) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let o = out.shape[1]
        let tiles = tile.tiles(n: n, h: h, w: w), points = tile.points, tile32 = Int32(tile.rawValue)
        // Chunk of tiles so V and M (points·(C + O)·chunk floats) stay near 12 M floats (48 MB).
        let chunk = min(tiles, max(64, (12 << 20) / (points * (c + o))))
        let v = Tensor.empty([points, c, chunk]), m = Tensor.empty([points, o, chunk])
        let workers = Parallel.threadCount
        let block = whole ? o : Tensor.winogradOutputBlock(outChannels: o, inChannels: c, points: points, workers: workers)
        let blocks = (o + block - 1) / block
        let u = Tensor.empty([whole ? 1 : min(workers, blocks), points * block * c])
        let slots = SlotPool(count: min(workers, blocks))
        let vp = v.pointer, mp = m.pointer, up = u.pointer, xp = pointer, yp = out.pointer
        let halfFlag: Int32 = half ? 1 : 0
        if whole {
            Parallel.forRanges(o, minChunk: max(1, 4096 / max(c, 1))) { r in
                pk_wino_weights_packed(tile32, weights, halfFlag, c, r.lowerBound, r.upperBound, 0, c, r.count, c, r.count,
                                         up + r.lowerBound * c, o * c)
            }
        }
        var t0 = 0
        while t0 < tiles {
            let count = min(chunk, tiles - t0)
            Parallel.forRanges(c, minChunk: 1) { r in
                pk_wino_input(tile32, xp, c, h, w, r.lowerBound, r.upperBound, t0, count, vp, chunk, chunk, c * chunk)
            }
            if whole {
                for k in 0..<points {
                    BLAS.sgemmUncounted(m: o, n: count, k: c, a: up + k * o * c, lda: c, b: vp + k * c * chunk, ldb: chunk,
                                        c: mp + k * o * chunk, ldc: chunk)
                }
                Parallel.forRanges(o, minChunk: 1) { r in
                    pk_wino_output(tile32, mp, o, chunk, o * chunk, r.lowerBound, r.upperBound, t0, count, bp, yp, h, w)
                }
            } else {
                BLAS.singleThreaded {
                    Parallel.forEach(blocks) { b in
                        let slot = slots.acquire()
                        defer { slots.release(slot) }
                        let o0 = b * block, rows = min(block, o - o0)
                        let ub = up + slot * points * block * c
                        pk_wino_weights_packed(tile32, weights, halfFlag, c, o0, o0 + rows, 0, c, rows, c, rows, ub, rows * c)
                        for k in 0..<points {
                            BLAS.sgemmUncounted(m: rows, n: count, k: c, a: ub + k * rows * c, lda: c, b: vp + k * c * chunk,
                                                ldb: chunk, c: mp + (k * o + o0) * chunk, ldc: chunk)
                        }
                        pk_wino_output(tile32, mp, o, chunk, o * chunk, o0, o0 + rows, t0, count, bp, yp, h, w)
                    }
                }
            }
            t0 += count
        }
        withExtendedLifetime((u, v, m)) {}
    }
}
