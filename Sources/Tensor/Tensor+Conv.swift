import CKernels
import Foundation
/// 2-D convolution parameters (torch.nn.Conv2d conventions; groups = 1).
public struct Conv2dOptions: Sendable, Equatable {
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public init(stride: Int = 1, padding: Int = 0) {
        self.stride = (stride, stride)
        self.padding = (padding, padding)
    }
    public init(stride: (Int, Int), padding: (Int, Int)) {
        self.stride = stride
        self.padding = padding
    }
    public static func == (a: Conv2dOptions, b: Conv2dOptions) -> Bool {
        a.stride == b.stride && a.padding == b.padding
    }
}

extension Tensor {
    /// torch.nn.functional.conv2d for NCHW input and [O, C, kh, kw] weight.
    /// 1×1/stride-1/no-padding is one GEMM per image; other kernels go through im2col tiles of output
    /// rows (bounded scratch, so a 512×512 VAE layer never builds a gigabyte column matrix).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, options: Conv2dOptions = Conv2dOptions()) -> Tensor {
        convolve(weightShape: weight.shape, weight: { weight.contiguous() }, half: nil, bias: bias, options: options)
    }

    /// conv2d with the weight still in its stored type: on the bf16 path (`BF16Compute`) fp16 weights are packed
    /// straight to tiles, without the fp32 copy `unpacked()` makes.
    /// In fp32, fp16 weights are multiplied in place by `halfKernel` (`HalfWeightKernel`; `blas` converts them first),
    /// or widened inside the weight transform where the convolution takes the Winograd path.
    public func conv2d(packedWeight: PackedTensor, bias: Tensor? = nil, options: Conv2dOptions = Conv2dOptions(),
                       halfKernel: HalfWeightKernel = .preferred) -> Tensor {
        convolve(weightShape: packedWeight.shape, weight: { packedWeight.unpacked() },
                 half: packedWeight.dtype == .f16 ? packedWeight : nil,
                 single: packedWeight.isAlignedFloat && Tensor.fp32WeightsOnKernel ? packedWeight : nil,
                 bias: bias, options: options, halfKernel: halfKernel)
    }

    /// `half`: the weight as fp16 values; `single`: as fp32 values the register-tile kernel may multiply in place
    /// (`fp32WeightsOnKernel`) where `halfKernel` takes the shape.
    private func convolve(weightShape: [Int], weight: () -> Tensor, half: PackedTensor?, single: PackedTensor? = nil,
                          bias: Tensor?, options: Conv2dOptions, halfKernel: HalfWeightKernel = .blas) -> Tensor {
        precondition(rank == 4 && weightShape.count == 4, "conv2d needs NCHW input and OCkk weight, got \(shape), \(weightShape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kh, kw) = (weightShape[0], weightShape[2], weightShape[3])
        precondition(weightShape[1] == c, "conv2d weight \(weightShape) for \(c) input channels")
        let (sh, sw) = options.stride, (ph, pw) = options.padding
        let ho = (h + 2 * ph - kh) / sh + 1, wo = (w + 2 * pw - kw) / sw + 1
        precondition(ho > 0 && wo > 0, "conv2d output would be empty for input \(shape) and kernel \(kh)×\(kw)")
        let winograd = Tensor.winogradTile(n: n, c: c, o: o, h: h, w: w, kh: kh, kw: kw, options: options)
        let plane = ho * wo
        let kdim = c * kh * kw
        let bf16 = BF16Compute.takes(m: o, n: plane, k: kdim)
        // On AMX, stride-1 convolutions whose output rows are whole 16-pixel tiles read the input in place.
        let direct = bf16 && BF16Compute.directConvolution && BF16Compute.currentKernel == .amx && sh == 1 && sw == 1 && wo % 16 == 0
        let profileToken = OpProfile.begin()
        defer {
            OpProfile.end(profileToken, kh == 3 && kw == 3 ? (winograd != nil ? "conv 3×3 Winograd" : direct ? "conv 3×3 direct" : "conv 3×3 im2col")
                                        : kh == 1 && kw == 1 ? "conv 1×1" : "conv other")
        }
        let x = contiguous()
        let out = Tensor.empty([n, o, ho, wo])
        if direct {
            let fp32 = half == nil ? weight() : nil  // kept alive through the call
            withExtendedLifetime(fp32) {
                x.conv2dDirectBF16(weights: half?.raw ?? UnsafeRawPointer(fp32!.pointer), halfOwner: half?.owner, outChannels: o,
                                   kernel: (kh, kw), padding: (ph, pw), bias: bias, out: out)
            }
            return out
        }
        if bf16 {
            let packed = half.map { BF16Compute.packA(half: $0.raw, owner: $0.owner, m: o, k: kdim) }
                ?? withExtendedLifetime(weight()) { BF16Compute.packA($0.pointer, lda: kdim, m: o, k: kdim) }
            x.conv2dBF16(packedWeights: packed, kernel: (kh, kw), stride: (sh, sw), padding: (ph, pw), bias: bias, out: out)
            return out
        }
        if let winograd {
            if let half {
                x.winogradConv3x3(weights: half.raw, half: true, bias: bias, out: out, tile: winograd)
                withExtendedLifetime(half.owner) {}
            } else {
                let wt = weight()
                x.winogradConv3x3(weights: UnsafeRawPointer(wt.pointer), half: false, bias: bias, out: out, tile: winograd)
                withExtendedLifetime(wt) {}
            }
            return out
        }
        if let half = half ?? single, halfKernel.takes(weightRows: o, linear: false) {
            if let bias { precondition(bias.count == o, "conv2d bias \(bias.shape) for \(o) outputs") }
            x.conv2dHalf(weights: half, kernel: halfKernel, size: (kh, kw), stride: (sh, sw), padding: (ph, pw),
                         bias: bias?.contiguous(), out: out)
            return out
        }
        let beta: Float = out.fillWithBias(bias, channels: o, plane: plane) ? 1 : 0
        let wt = weight()
        if kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 {
            for img in 0..<n {
                BLAS.sgemm(transA: false, transB: false, m: o, n: plane, k: c,
                           a: wt.pointer, lda: c, b: x.pointer + img * c * h * w, ldb: h * w,
                           beta: beta, c: out.pointer + img * o * plane, ldc: plane)
            }
            return out
        }
        x.forEachIm2colTile(size: (kh, kw), stride: (sh, sw), padding: (ph, pw), out: out) { col, cols, offset in
            BLAS.sgemm(transA: false, transB: false, m: o, n: cols, k: kdim, a: wt.pointer, lda: kdim, b: col, ldb: cols,
                       beta: beta, c: out.pointer + offset, ldc: plane)
        }
        return out
    }

    /// Each image's im2col columns in tiles of output rows (`im2colRowsPerTile`, one reused buffer), handed to
    /// `multiply` with their count and where their outputs start in `out` (the image's plane, the tile's first row).
    fileprivate func forEachIm2colTile(size: (Int, Int), stride: (Int, Int), padding: (Int, Int), out: Tensor,
                                       _ multiply: (UnsafePointer<Float>, _ columns: Int, _ outOffset: Int) -> Void) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let kdim = c * size.0 * size.1
        let rowsPerTile = Tensor.im2colRowsPerTile(outHeight: ho, outWidth: wo, kdim: kdim)
        let col = Tensor.empty([kdim, rowsPerTile * wo])
        for img in 0..<n {
            var y0 = 0
            while y0 < ho {
                let rows = min(rowsPerTile, ho - y0)
                im2col(src: pointer + img * c * h * w, channels: c, height: h, width: w, kh: size.0, kw: size.1,
                       sh: stride.0, sw: stride.1, ph: padding.0, pw: padding.1, outWidth: wo, firstRow: y0, rows: rows,
                       dst: col.pointer)
                multiply(col.pointer, rows * wo, img * o * ho * wo + y0 * wo)
                y0 += rows
            }
        }
    }
}

extension Tensor {
    /// An im2col column buffer's size: near 4 M floats (16 MB, cache-friendly for the product that reads it).
    static let im2colBudgetFloats = 4 << 20

    /// Output rows per im2col tile: the column buffer stays near `budgetFloats` while each product keeps at least 256
    /// columns (measured best on 2 cores, bench ops).
    static func im2colRowsPerTile(outHeight ho: Int, outWidth wo: Int, kdim: Int, budgetFloats: Int = im2colBudgetFloats) -> Int {
        min(ho, max((256 + wo - 1) / wo, budgetFloats / max(kdim * wo, 1)))
    }

    /// A convolution with fp16 (or float-aligned fp32) weights multiplied in place (`HalfWeightKernel`). 1×1 convolutions read the input as
    /// it is; others build im2col columns — for all images at once while they fit in `im2colBudgetFloats` (small
    /// planes: SD's 8² level, and 16² at 256 px; each weight then meets the batch's columns at once), else per image
    /// in tiles of rows.
    fileprivate func conv2dHalf(weights: PackedTensor, kernel: HalfWeightKernel, size: (Int, Int), stride: (Int, Int),
                                padding: (Int, Int), bias: Tensor?, out: Tensor) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let kdim = c * size.0 * size.1, plane = ho * wo
        defer { withExtendedLifetime((weights.owner, bias)) {} }
        let bp = bias.map { UnsafePointer($0.pointer) }
        precondition(weights.dtype == .f16 || weights.dtype == .f32, "conv2dHalf takes fp16 or fp32 weights")
        let isHalf = weights.dtype == .f16
        if size == (1, 1) && stride == (1, 1) && padding == (0, 0) {
            kernel.convolution(weights: weights.raw, half: isHalf, m: o, k: c, columns: pointer, n: n * plane, ldb: plane, plane: plane,
                               bGroupStride: c * plane, c: out.pointer, ldc: plane, cGroupStride: o * plane,
                               bias: bp)
            return
        }
        if n * kdim * plane <= Tensor.im2colBudgetFloats {
            let col = Tensor.empty([n, kdim, plane])
            for img in 0..<n {
                im2col(src: pointer + img * c * h * w, channels: c, height: h, width: w, kh: size.0, kw: size.1,
                       sh: stride.0, sw: stride.1, ph: padding.0, pw: padding.1, outWidth: wo, firstRow: 0, rows: ho,
                       dst: col.pointer + img * kdim * plane)
            }
            kernel.convolution(weights: weights.raw, half: isHalf, m: o, k: kdim, columns: col.pointer, n: n * plane, ldb: plane,
                               plane: plane, bGroupStride: kdim * plane, c: out.pointer, ldc: plane,
                               cGroupStride: o * plane, bias: bp)
            return
        }
        forEachIm2colTile(size: size, stride: stride, padding: padding, out: out) { col, cols, offset in
            kernel.convolution(weights: weights.raw, half: isHalf, m: o, k: kdim, columns: col, n: cols, ldb: cols, plane: cols,
                               bGroupStride: 0, c: out.pointer + offset, ldc: plane, cGroupStride: 0, bias: bp)
        }
    }

    /// Whether convolutions with fp32 weights held by a model (`conv2d(packedWeight:)`: the default model's decoded
    /// weights, fp32 checkpoints) run on the register-tile kernel (`HalfWeightKernel.convolution`, A read as fp32)
    /// instead of OpenBLAS. `PHOSPHOR_F32_CONV=blas` turns it off (A/B runs).
    static let fp32WeightsOnKernel = getenv("PHOSPHOR_F32_CONV").map { String(cString: $0) != "blas" } ?? true

    /// The bf16 path (`BF16Compute`) of a convolution: the weights packed to bf16 tiles once for all images (given,
    /// released here), each image's im2col matrix packed straight from the input (no fp32 column matrix), in tiles
    /// of output rows near 8 M values (16 MB); the bias is the GEMM's starting value.
    fileprivate func conv2dBF16(packedWeights: BufferPool.Buffer, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                                bias: Tensor?, out: Tensor) {
        defer { BF16Compute.release(packedWeights) }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, ho, wo) = (out.shape[1], out.shape[2], out.shape[3])
        let kdim = c * kernel.0 * kernel.1, plane = ho * wo
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * n * o * kdim * plane) }
        let beta: Float = out.fillWithBias(bias, channels: o, plane: plane) ? 1 : 0
        let rowsPerTile = Tensor.im2colRowsPerTile(outHeight: ho, outWidth: wo, kdim: kdim, budgetFloats: 2 * Tensor.im2colBudgetFloats)
        let columns = BF16Compute.bufferForB(n: rowsPerTile * wo, k: kdim)
        defer { BF16Compute.release(columns) }
        let xp = pointer, bp = columns.pointer
        for img in 0..<n {
            let src = xp + img * c * h * w
            var y0 = 0
            while y0 < ho {
                let rows = min(rowsPerTile, ho - y0)
                BF16Compute.split((rows * wo + 15) / 16) { r in
                    pk_bf16_pack_im2col(src, c, h, w, kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1,
                                        wo, y0, rows, r.lowerBound, r.upperBound, bp)
                }
                BF16Compute.multiply(packedWeights, columns, m: o, n: rows * wo, k: kdim, alpha: 1, beta: beta,
                                     c: out.pointer + img * o * plane + y0 * wo, ldc: plane)
                y0 += rows
            }
        }
    }
}

extension Tensor {
    /// The bf16 direct convolution on AMX (`pk_amx_conv`): weights packed tap-major once, each image packed once into
    /// the channel-pair-interleaved, zero-bordered layout the tiles read in place; stride 1, output width a multiple
    /// of 16. `weights` is O×C×kh×kw, IEEE half owned by `halfOwner` (packed once per `BF16Compute.cachingWeights`
    /// scope), or fp32 (halfOwner nil) alive for the call.
    fileprivate func conv2dDirectBF16(weights: UnsafeRawPointer, halfOwner: AnyObject?, outChannels o: Int, kernel: (Int, Int),
                                      padding: (Int, Int), bias: Tensor?, out: Tensor) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let plane = out.shape[2] * out.shape[3], taps = kernel.0 * kernel.1
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * n * o * c * taps * plane) }
        let accumulate: Int32 = out.fillWithBias(bias, channels: o, plane: plane) ? 1 : 0
        let outBlocks = (o + 15) / 16, pixelBlocks = plane / 16, pairs = (c + 31) / 32 * 16
        let half: Int32 = halfOwner == nil ? 0 : 1
        let pack = { (wp: UnsafeMutablePointer<UInt16>) in
            BF16Compute.split(outBlocks) { r in pk_bf16_pack_conv_weights(weights, half, o, c, taps, r.lowerBound, r.upperBound, wp) }
        }
        let elements = pk_bf16_conv_weight_elements(o, c, taps)
        let packedWeights = halfOwner.map {
            BF16Compute.packedWeight(weights, owner: $0, layout: .convolutionTaps, elements: elements, sourceBytes: o * c * taps * 2, pack: pack)
        } ?? { let b = BF16Compute.buffer(elements); pack(b.pointer); return b }()
        let packedInput = BF16Compute.buffer(pk_bf16_conv_input_elements(c, h, w, padding.0, padding.1))
        defer { BF16Compute.release(packedWeights); BF16Compute.release(packedInput) }
        let wp = packedWeights.pointer, xp = packedInput.pointer
        for img in 0..<n {
            let src = pointer + img * c * h * w, dst = out.pointer + img * o * plane
            BF16Compute.split(pairs) { r in
                pk_bf16_pack_conv_input(src, c, h, w, padding.0, padding.1, r.lowerBound, r.upperBound, xp)
            }
            // Whole 2×2 tile blocks per worker, along the longer dimension.
            if pixelBlocks >= outBlocks {
                BF16Compute.split((pixelBlocks + 1) / 2) { r in
                    pk_amx_conv(wp, xp, c, h, w, kernel.0, kernel.1, padding.0, padding.1, o, 0, outBlocks,
                                2 * r.lowerBound, min(pixelBlocks, 2 * r.upperBound), dst, accumulate)
                }
            } else {
                BF16Compute.split((outBlocks + 1) / 2) { r in
                    pk_amx_conv(wp, xp, c, h, w, kernel.0, kernel.1, padding.0, padding.1, o, 2 * r.lowerBound,
                                min(outBlocks, 2 * r.upperBound), 0, pixelBlocks, dst, accumulate)
                }
            }
        }
    }

    /// Fills an [N, O, plane] output with each channel's bias (the convolution GEMMs then add with beta = 1);
    /// false without a bias.
    fileprivate func fillWithBias(_ bias: Tensor?, channels o: Int, plane: Int) -> Bool {
        guard let bias else { return false }
        precondition(bias.count == o, "conv2d bias \(bias.shape) for \(o) outputs")
        let b = bias.contiguous()
        let bp = b.pointer, op = pointer
        Parallel.forRanges(count / max(plane, 1), minChunk: max(1, 16384 / max(plane, 1))) { r in
            for i in r { (op + i * plane).initialize(repeating: bp[i % o], count: plane) }
        }
        withExtendedLifetime(b) {}
        return true
    }
}

/// Writes the [C·kh·kw, rows·wo] column matrix for output rows firstRow..<firstRow+rows.
private func im2col(src: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                    kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int,
                    outWidth wo: Int, firstRow: Int, rows: Int, dst: UnsafeMutablePointer<Float>) {
    let cols = rows * wo
    let kernelRows = channels * kh * kw
    Parallel.forRanges(kernelRows, minChunk: max(1, 8192 / max(cols, 1))) { range in
        for kr in range {
            let ci = kr / (kh * kw), ky = (kr / kw) % kh, kx = kr % kw
            let plane = src + ci * height * width
            let row = dst + kr * cols
            for r in 0..<rows {
                let iy = (firstRow + r) * sh - ph + ky
                let out = row + r * wo
                if iy < 0 || iy >= height {
                    out.initialize(repeating: 0, count: wo)
                    continue
                }
                let line = plane + iy * width
                // Valid output columns: 0 <= ox*sw - pw + kx < width.
                let lo = max(0, (pw - kx + sw - 1) / sw)
                let last = width - 1 + pw - kx
                let hi = last < 0 ? 0 : min(wo, last / sw + 1)
                if lo >= hi { out.initialize(repeating: 0, count: wo); continue }
                if lo > 0 { out.initialize(repeating: 0, count: lo) }
                if sw == 1 {
                    (out + lo).update(from: line + (lo - pw + kx), count: hi - lo)
                } else {
                    for ox in lo..<hi { out[ox] = line[ox * sw - pw + kx] }
                }
                if hi < wo { (out + hi).initialize(repeating: 0, count: wo - hi) }
            }
        }
    }
}
