import Foundation
import Testing
import Tensor

/// The opt-in bf16 path (AMX tiles). Each result is checked against the fp32 path with the bound that bf16 rounding
/// implies: operands rounded to 8 significant bits (relative 2⁻⁹ each), products exact in fp32, fp32 accumulation.
/// Every test runs on each kernel the CPU has; skipped where it has none (the path is never taken there).
@Suite(.enabled(if: BF16Compute.available, "needs AMX or AVX-512-BF16")) struct BF16ComputeTests {
    /// Runs `body` once per bf16 kernel this CPU has (AMX and/or AVX-512-BF16).
    func forEachKernel(_ body: (BF16Compute.Kernel) -> Void) {
        for kernel in BF16Compute.kernels { BF16Compute.using(kernel) { body(kernel) } }
    }

    /// op(A)·op(B) in fp32 and in bf16, and Σ|a|·|b| per output (the scale of the rounding error).
    func products(m: Int, n: Int, k: Int, transB: Bool, alpha: Float, beta: Float, seed: UInt64)
        -> (bf16: [Float], fp32: [Float], absDot: [Float], betaC: [Float]) {
        let a = Tensor.randomUniform([m, k], seed: seed)
        let b = Tensor.randomUniform(transB ? [n, k] : [k, n], seed: seed + 1, scale: 0.5)
        let c0 = Tensor.randomUniform([m, n], seed: seed + 2)
        func run(_ bf16: Bool, _ x: Tensor, _ y: Tensor, alpha: Float, beta: Float) -> [Float] {
            let c = c0.contiguous().copy()
            BF16Compute.with(bf16) {
                BLAS.sgemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: alpha, a: x.pointer, lda: k,
                           b: y.pointer, ldb: transB ? k : n, beta: beta, c: c.pointer, ldc: n)
            }
            return c.toArray()
        }
        let absDot = run(false, a.map { Swift.abs($0) }, b.map { Swift.abs($0) }, alpha: 1, beta: 0)
        return (run(true, a, b, alpha: alpha, beta: beta), run(false, a, b, alpha: alpha, beta: beta), absDot,
                c0.toArray().map { $0 * beta })
    }

    @Test(arguments: [(16, 16, 32, false), (64, 300, 1001, false), (37, 53, 100, false), (300, 77, 2100, true),
                      (1, 512, 512, false), (129, 129, 64, true), (48, 40, 4096, false)])
    func gemmWithinBF16RoundingOfFP32(m: Int, n: Int, k: Int, transB: Bool) {
        forEachKernel { kernel in
            for (alpha, beta): (Float, Float) in [(1, 0), (0.3, 1), (-2, 0.5)] {
                let r = products(m: m, n: n, k: k, transB: transB, alpha: alpha, beta: beta, seed: UInt64(m * n + k))
                var worst = 0.0
                for i in 0..<r.bf16.count {
                    // bf16's bound plus the fp32 reference's own accumulation error (k·2⁻²⁴ of Σ|a||b|) and beta·C's rounding.
                    let bound = BF16Compute.errorBound(absDot: Double(abs(alpha) * r.absDot[i]), k: k)
                        + Double(k) * 0x1p-24 * Double(abs(alpha) * r.absDot[i]) + 0x1p-23 * Double(abs(r.betaC[i])) + 1e-30
                    worst = max(worst, Double(abs(r.bf16[i] - r.fp32[i])) / bound)
                }
                #expect(worst <= 1, "\(kernel): m \(m) n \(n) k \(k) transB \(transB) alpha \(alpha) beta \(beta): \(worst) of the bound")
            }
        }
    }

    /// Operands with at most 8 significant bits are exact in bf16: small integer products then match fp32 exactly,
    /// and an operand with a 9th bit shows the rounding actually happens.
    @Test func exactOnBF16ValuesAndRoundsOthers() {
        forEachKernel { kernel in
            let m = 64, n = 64, k = 64  // 2¹⁸ multiply-adds: the smallest product sent to the tiles
            let a = Tensor((0..<(m * k)).map { Float($0 % 7) - 3 }, shape: [m, k])
            let b = Tensor((0..<(k * n)).map { Float($0 % 5) - 2 }, shape: [k, n])
            func product(_ bf16: Bool, _ a: Tensor) -> [Float] {
                BF16Compute.with(bf16) { Tensor.matmul(a, b).toArray() }
            }
            #expect(zip(product(true, a), product(false, a)).allSatisfy { $0 == $1 })
            let nudged = a.map { $0 + 1.0 / 1024 }
            #expect(!zip(product(true, nudged), product(false, nudged)).allSatisfy { $0 == $1 })
        }
    }

    /// Attention: scores from bf16 Q and K move by at most δ = α·2⁻⁸·max Σ|q||k|, so each softmax weight by a factor
    /// within e^{±2δ}; V and the weights are rounded (2⁻⁹ each). Output error ≤ (2·2⁻⁹ + e^{2δ} − 1)·max|v|.
    @Test(arguments: [(2, 4, 300, 40, 40), (1, 2, 4096, 40, 40), (2, 1, 77, 64, 80), (1, 1, 40, 160, 160)])
    func attentionWithinBF16RoundingOfFP32(batch: Int, heads: Int, tokens: Int, dim: Int, dimV: Int) {
        forEachKernel { kernel in
            let q = Tensor.randomUniform([batch, heads, tokens, dim], seed: 11)
            let k = Tensor.randomUniform([batch, heads, tokens + 5, dim], seed: 12)
            let v = Tensor.randomUniform([batch, heads, tokens + 5, dimV], seed: 13)
            let fp32 = BF16Compute.with(false) { Tensor.scaledDotProductAttention(query: q, key: k, value: v) }
            let bf16 = BF16Compute.with(true) { Tensor.scaledDotProductAttention(query: q, key: k, value: v) }
            let absScores = BF16Compute.with(false) { Tensor.matmul(q.map { Swift.abs($0) }, k.map { Swift.abs($0) }.transposed()) }
            let delta = Double(absScores.maxAbs()) / Double(dim).squareRoot() * 0x1p-8
            let bound = (2 * 0x1p-9 + exp(2 * delta) - 1) * Double(v.maxAbs())
            let error = Double(bf16.maxAbsDifference(fp32))
            #expect(error <= bound, "\(kernel): error \(error), bound \(bound)")
            #expect(error > 0, "the bf16 path ran")
        }
    }

    /// Winograd's transforms compound bf16 rounding (several % of the output range), so 3×3 convolutions that take
    /// Winograd in fp32 go through im2col in bf16 — and stay within the GEMM bound of the direct convolution.
    @Test func convolutionsSkipWinogradInBF16() {
        forEachKernel { kernel in
            let w = Tensor.randomUniform([32, 32, 3, 3], seed: 1, scale: 0.1)
            let x = Tensor.randomUniform([1, 32, 32, 32], seed: 3)     // 64 tiles: Winograd in fp32
            let options = Conv2dOptions(stride: 1, padding: 1)
            func kinds(_ bf16: Bool) -> [String] {
                BF16Compute.with(bf16) {
                    OpProfile.record { _ = x.conv2d(weight: w, options: options) }.map(\.kind)
                }
            }
            #expect(kinds(false) == ["conv 3×3 Winograd"])
            // AMX reads the input in place (output rows of 32 pixels: whole tiles); AVX-512-BF16 packs an im2col matrix.
            #expect(kinds(true) == [kernel == .amx ? "conv 3×3 direct" : "conv 3×3 im2col"])
            #expect(convolutionError(x, w, options) <= 1)
        }
    }

    /// The bf16 convolution's largest error as a fraction of its rounding bound (im2col packed straight from the input).
    func convolutionError(_ x: Tensor, _ w: Tensor, _ options: Conv2dOptions) -> Double {
        let fp32 = BF16Compute.with(false) { Tensor.withWinograd(false) { x.conv2d(weight: w, options: options) } }
        let bf16 = BF16Compute.with(true) { x.conv2d(weight: w, options: options) }
        let absDot = BF16Compute.with(false) {
            Tensor.withWinograd(false) { x.map { Swift.abs($0) }.conv2d(weight: w.map { Swift.abs($0) }, options: options) }
        }
        let k = w.shape[1] * w.shape[2] * w.shape[3]
        let d = absDot.toArray(), b = bf16.toArray(), f = fp32.toArray()
        var worst = 0.0
        for i in 0..<d.count {
            let scale = Double(d[i])
            let bound = BF16Compute.errorBound(absDot: scale, k: k) + Double(k) * 0x1p-24 * scale + 1e-30
            worst = max(worst, Double(Swift.abs(b[i] - f[i])) / bound)
        }
        return worst
    }

    /// Rows of 16 pixels inside one output row (the vector path) and the general gather: odd widths, stride 2,
    /// no padding, a 1×1 kernel, rectangles; batch 2. Output widths of 16, 32, 48 take AMX's direct convolution:
    /// channels not a multiple of 32, outputs not a multiple of 16 (partial tiles), an odd count of pixel blocks.
    @Test(arguments: [(48, 40, 13, 13, 3, 1, 1), (32, 64, 20, 20, 3, 2, 1), (40, 40, 18, 34, 3, 1, 0),
                      (64, 32, 16, 48, 1, 2, 0), (36, 36, 17, 40, 3, 1, 1), (40, 24, 9, 32, 3, 1, 1),
                      (36, 50, 6, 48, 1, 1, 0), (72, 40, 7, 16, 3, 1, 1), (33, 17, 16, 18, 3, 1, 0)])
    func convolutionWithinBF16RoundingOfFP32(c: Int, o: Int, h: Int, w: Int, size: Int, stride: Int, padding: Int) {
        forEachKernel { kernel in
            let x = Tensor.randomUniform([2, c, h, w], seed: 21)
            let weight = Tensor.randomUniform([o, c, size, size], seed: 22, scale: 0.1)
            let worst = convolutionError(x, weight, Conv2dOptions(stride: stride, padding: padding))
            #expect(worst <= 1, "\(kernel): \(worst) of the bound")
            #expect(worst > 0, "the bf16 path ran")
        }
    }

    /// fp16 weights packed straight to tiles (linear: Wᵀ as B; conv: W as A) agree with the fp32 path on the
    /// unpacked weights within the same bound (fp16 values are exact in fp32).
    @Test func halfWeightsPackDirectly() {
        forEachKernel { kernel in
            final class Owner { let bits: [UInt16]; init(_ bits: [UInt16]) { self.bits = bits } }
            func half(_ t: Tensor) -> PackedTensor {
                let owner = Owner(t.toArray().map { Float16($0).bitPattern })
                return owner.bits.withUnsafeBytes { PackedTensor(dtype: .f16, shape: t.shape, raw: $0.baseAddress!, owner: owner) }
            }
            let x = Tensor.randomUniform([2, 300, 96], seed: 31)
            let w = half(Tensor.randomUniform([136, 96], seed: 32, scale: 0.2))
            let fp32 = BF16Compute.with(false) { x.linear(weight: w.unpacked()) }
            let bf16 = BF16Compute.with(true) { x.linear(packedWeight: w) }
            let absDot = BF16Compute.with(false) { x.map { Swift.abs($0) }.linear(weight: w.unpacked().map { Swift.abs($0) }) }
            let d = absDot.toArray(), b = bf16.toArray(), f = fp32.toArray()
            var worst = 0.0
            for i in 0..<d.count {
                let bound = BF16Compute.errorBound(absDot: Double(d[i]), k: 96) + 96 * 0x1p-24 * Double(d[i]) + 1e-30
                worst = max(worst, Double(Swift.abs(b[i] - f[i])) / bound)
            }
            #expect(worst <= 1 && worst > 0, "linear: \(worst) of the bound")

            let image = Tensor.randomUniform([2, 40, 19, 32], seed: 33)
            let kernel = half(Tensor.randomUniform([48, 40, 3, 3], seed: 34, scale: 0.1))
            let options = Conv2dOptions(stride: 1, padding: 1)
            let convFP32 = BF16Compute.with(false) { Tensor.withWinograd(false) { image.conv2d(weight: kernel.unpacked(), options: options) } }
            let convBF16 = BF16Compute.with(true) { image.conv2d(packedWeight: kernel, options: options) }
            #expect(convolutionError(image, kernel.unpacked(), options) <= 1)
            #expect(convBF16.maxAbsDifference(BF16Compute.with(true) { image.conv2d(weight: kernel.unpacked(), options: options) }) == 0,
                    "fp16 packed directly = fp32 copy packed")
            #expect(convBF16.maxAbsDifference(convFP32) > 0)
        }
    }

    /// In a `cachingWeights` scope fp16 weights are packed once: repeated products give exactly the uncached results
    /// without packing again, and a weight at the same address but of another owner (new data) is packed afresh.
    @Test func cachedWeightsPackOnceAndMatch() {
        forEachKernel { kernel in
            final class Owner {
                let bits: UnsafeMutablePointer<UInt16>
                init(_ values: [Float], into bits: UnsafeMutablePointer<UInt16>) {
                    self.bits = bits
                    for (i, v) in values.enumerated() { bits[i] = Float16(v).bitPattern }
                }
            }
            let storage = UnsafeMutablePointer<UInt16>.allocate(capacity: 48 * 40 * 9)
            defer { storage.deallocate() }
            func half(_ t: Tensor) -> (PackedTensor, Owner) {
                let owner = Owner(t.toArray(), into: storage)
                return (PackedTensor(dtype: .f16, shape: t.shape, raw: UnsafeRawPointer(storage), owner: owner), owner)
            }
            let x = Tensor.randomUniform([2, 300, 96], seed: 41)
            let image = Tensor.randomUniform([2, 40, 19, 32], seed: 42)
            // Direct (stride 1, 32 wide) and im2col (stride 2) convolutions; fp32 weights are never cached, and packing
            // them gives exactly what packing the fp16 values does.
            let options = [Conv2dOptions(stride: 1, padding: 1), Conv2dOptions(stride: 2, padding: 1)]
            func convolutions(_ k: PackedTensor) -> [Tensor] { options.map { image.conv2d(packedWeight: k, options: $0) } }
            func uncached(_ k: PackedTensor) -> [Tensor] { options.map { image.conv2d(weight: k.unpacked(), options: $0) } }
            BF16Compute.with(true) {
                let (w, wOwner) = half(Tensor.randomUniform([136, 96], seed: 43, scale: 0.2))
                let uncachedLinear = x.linear(weight: w.unpacked())
                withExtendedLifetime(wOwner) {
                    BF16Compute.cachingWeights {
                        let before = BF16Compute.cachedWeightBytes
                        #expect(x.linear(packedWeight: w).maxAbsDifference(uncachedLinear) == 0, "\(kernel)")
                        let afterFirst = BF16Compute.cachedWeightBytes
                        #expect(afterFirst > before, "\(kernel): the weight was cached")
                        #expect(x.linear(packedWeight: w).maxAbsDifference(uncachedLinear) == 0, "\(kernel)")
                        #expect(BF16Compute.cachedWeightBytes == afterFirst, "\(kernel): the second product packed nothing")
                    }
                }
                // Same memory, new values under a new owner: the cache must not hand back the old packing.
                BF16Compute.cachingWeights {
                    let (k1, owner1) = half(Tensor.randomUniform([48, 40, 3, 3], seed: 44, scale: 0.1))
                    let first = withExtendedLifetime(owner1) { (convolutions(k1), convolutions(k1), uncached(k1)) }
                    for (a, b) in zip(first.0, first.2) { #expect(a.maxAbsDifference(b) == 0, "\(kernel)") }
                    for (a, b) in zip(first.1, first.2) { #expect(a.maxAbsDifference(b) == 0, "\(kernel): from the cache") }
                    let (k2, owner2) = half(Tensor.randomUniform([48, 40, 3, 3], seed: 45, scale: 0.1))
                    let second = withExtendedLifetime(owner2) { (convolutions(k2), uncached(k2)) }
                    for (a, b) in zip(second.0, second.1) { #expect(a.maxAbsDifference(b) == 0, "\(kernel): repacked for the new owner") }
                    #expect(second.0[0].maxAbsDifference(first.0[0]) > 0)
                }
            }
        }
    }
}
