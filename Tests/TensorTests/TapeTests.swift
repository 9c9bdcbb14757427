import Foundation
import Testing
import Tensor
import TestSupport

/// The tape's gradients against torch.autograd (Tests/Fixtures/make_autodiff_fixtures.py): each case stores an
/// upstream gradient g and the expected gradient of sum(g · op(x)); the issue asks ≤ 1e-4 (relative to scale).
@Suite struct TapeAutogradTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("autodiff.safetensors") }

    /// Runs `op` on a tape from the case's input `key`, checks the value and returns the gradient error.
    func check(_ name: String, input key: String = "x", grad: String = "dx", _ op: (Variable) -> Variable) throws {
        let tape = Tape()
        let x = tape.variable(try fx.tensor(name, key))
        let y = op(x)
        let valueError = scaledMaxError(y.value, try fx.tensor(name, "out"))
        let dx = tape.gradient(of: y, seed: try fx.tensor(name, "g"), wrt: [x])[0]
        let gradError = scaledMaxError(dx, try fx.tensor(name, grad))
        #expect(valueError <= 1e-4, "\(name) value \(valueError)")
        #expect(gradError <= 1e-4, "\(name) gradient \(gradError)")
    }

    @Test(arguments: ["conv3x3", "conv_stride2", "conv1x1", "conv_patch"])
    func conv2d(name: String) throws {
        let stride: Int = try fx.option(name, "stride"), padding: Int = try fx.option(name, "padding")
        let w = try fx.tensor(name, "weight"), b = try fx.tensor(name, "bias")
        try check(name) { $0.conv2d(weight: w, bias: b, options: Conv2dOptions(stride: stride, padding: padding)) }
    }

    @Test func norms() throws {
        let groups: Int = try fx.option("group_norm", "groups"), eps: Float = try fx.option("group_norm", "eps")
        let gw = try fx.tensor("group_norm", "weight"), gb = try fx.tensor("group_norm", "bias")
        try check("group_norm") { $0.groupNorm(groups: groups, weight: gw, bias: gb, eps: eps) }
        let lw = try fx.tensor("layer_norm", "weight"), lb = try fx.tensor("layer_norm", "bias")
        try check("layer_norm") { $0.layerNorm(weight: lw, bias: lb, eps: 1e-5) }
    }

    @Test func linear() throws {
        let w = try fx.tensor("linear", "weight"), b = try fx.tensor("linear", "bias")
        try check("linear") { $0.linear(weight: w, bias: b) }
    }

    @Test func activations() throws {
        try check("silu") { $0.silu() }
        try check("quick_gelu") { $0.quickGelu() }
        try check("gelu") { $0.gelu() }
        try check("gelu_tanh") { $0.geluTanh() }
        try check("clamp") { $0.affine(scale: 0.25, shift: 0.5).clamped(0, 1) }
    }

    /// Several heads (workers in parallel) and one head of 300 queries (two blocks of 256 rows).
    @Test(arguments: ["attention", "attention_blocks"])
    func attention(name: String) throws {
        let tape = Tape()
        let q = tape.variable(try fx.tensor(name, "q")), k = tape.variable(try fx.tensor(name, "k")), v = tape.variable(try fx.tensor(name, "v"))
        let out = Variable.attention(query: q, key: k, value: v)
        #expect(scaledMaxError(out.value, try fx.tensor(name, "out")) <= 1e-4)
        let grads = tape.gradient(of: out, seed: try fx.tensor(name, "g"), wrt: [q, k, v])
        for (grad, key) in zip(grads, ["dq", "dk", "dv"]) {
            let error = scaledMaxError(grad, try fx.tensor(name, key))
            #expect(error <= 1e-4, "\(name) \(key) \(error)")
        }
    }

    @Test func resampling() throws {
        try check("upsample") { $0.upsampleNearest2x() }
        for name in ["pool_down", "pool_up"] {
            let size: [Int] = try fx.option(name, "size")
            try check(name) { $0.adaptiveAvgPool2d(height: size[0], width: size[1]) }
        }
    }

    @Test func sphericalDistance() throws {
        let target = try fx.tensor("spherical", "target")
        try check("spherical") { $0.normalizedRows().sphericalDistance(to: target) }
    }

    /// A value used twice (a residual) gets both contributions; shapes ops pass gradients back to their views.
    @Test func accumulationAndShapes() throws {
        let tape = Tape()
        let x = tape.variable(Tensor((0..<24).map { Float($0) / 10 - 1 }, shape: [2, 3, 4]))
        let y = (x.transposed(1, 2).reshaped([2, 12]).narrowed(1, start: 2, length: 6) + x.reshaped([2, 12]).narrowed(1, start: 0, length: 6)).sum()
        let dx = tape.gradient(of: y, wrt: [x])[0]
        // Element (b, c, s) feeds the first term when its transposed index s·3 + c is in 2..<8, and the second when
        // c·4 + s < 6.
        var expected = [Float](repeating: 0, count: 24)
        for b in 0..<2 { for c in 0..<3 { for s in 0..<4 {
            let i = b * 12 + c * 4 + s
            if (2..<8).contains(s * 3 + c) { expected[i] += 1 }
            if c * 4 + s < 6 { expected[i] += 1 }
        } } }
        #expect(dx.toArray() == expected)
    }
}

/// Gradient checks against central finite differences of float64 reference forwards (written here, independent of
/// the float32 kernels): every input coordinate, h = 1e-5; the bound ≤ 1e-3 relative to the largest entry.
@Suite struct TapeFiniteDifferenceTests {
    /// Deterministic inputs in [-scale, scale).
    static func values(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        Tensor.randomUniform([n], seed: seed, scale: Float(scale)).toArray().map(Double.init)
    }

    /// max |tape − finite difference| / max |finite difference| for L(x) = Σ g·f(x).
    static func error(shape: [Int], seed: UInt64, scale: Double = 1, reference f: ([Double]) -> [Double],
                      tape op: (Variable) -> Variable) -> Double {
        let n = shape.reduce(1, *)
        let x = values(n, seed: seed, scale: scale)
        let outCount = f(x).count
        let g = values(outCount, seed: seed &+ 1)
        func loss(_ v: [Double]) -> Double { zip(f(v), g).reduce(0) { $0 + $1.0 * $1.1 } }
        let h = 1e-5
        var numeric = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var a = x, b = x
            a[i] += h
            b[i] -= h
            numeric[i] = (loss(a) - loss(b)) / (2 * h)
        }
        let tape = Tape()
        let v = tape.variable(Tensor(x.map(Float.init), shape: shape))
        let y = op(v)
        let analytic = tape.gradient(of: y, seed: Tensor(g.map(Float.init), shape: y.shape), wrt: [v])[0].toArray()
        let scale = numeric.map(abs).max() ?? 1
        return zip(analytic, numeric).map { abs(Double($0) - $1) }.max()! / max(scale, 1e-12)
    }

    // float64 reference forwards (NCHW, row-major).
    static func conv(_ x: [Double], n: Int, c: Int, h: Int, w: Int, weight: [Double], o: Int, k: Int, stride: Int, pad: Int) -> [Double] {
        let ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1
        var out = [Double](repeating: 0, count: n * o * ho * wo)
        for b in 0..<n { for oc in 0..<o { for y in 0..<ho { for xx in 0..<wo {
            var s = 0.0
            for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let iy = y * stride - pad + ky, ix = xx * stride - pad + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < w { s += x[((b * c + ci) * h + iy) * w + ix] * weight[((oc * c + ci) * k + ky) * k + kx] }
            } } }
            out[((b * o + oc) * ho + y) * wo + xx] = s
        } } } }
        return out
    }

    static func normalize(_ x: [Double], groupSize: Int, gamma: (Int) -> Double, eps: Double) -> [Double] {
        var out = x
        for start in stride(from: 0, to: x.count, by: groupSize) {
            let part = x[start..<(start + groupSize)]
            let mean = part.reduce(0, +) / Double(groupSize)
            let variance = part.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(groupSize)
            for i in start..<(start + groupSize) { out[i] = (x[i] - mean) / (variance + eps).squareRoot() * gamma(i) }
        }
        return out
    }

    static func attention(q: [Double], k: [Double], v: [Double], nq: Int, nk: Int, d: Int, dv: Int) -> [Double] {
        var out = [Double](repeating: 0, count: nq * dv)
        for i in 0..<nq {
            var s = (0..<nk).map { j in (0..<d).reduce(0.0) { $0 + q[i * d + $1] * k[j * d + $1] } / Double(d).squareRoot() }
            let m = s.max()!
            s = s.map { Foundation.exp($0 - m) }
            let total = s.reduce(0, +)
            for j in 0..<nk { for e in 0..<dv { out[i * dv + e] += s[j] / total * v[j * dv + e] } }
        }
        return out
    }

    @Test func conv2d() {
        for (stride, pad, k) in [(1, 1, 3), (2, 0, 3), (1, 0, 1), (2, 0, 2)] {
            let weight = Self.values(3 * 2 * k * k, seed: 7)
            let e = Self.error(shape: [1, 2, 5, 6], seed: 11, reference: {
                Self.conv($0, n: 1, c: 2, h: 5, w: 6, weight: weight, o: 3, k: k, stride: stride, pad: pad)
            }, tape: { $0.conv2d(weight: Tensor(weight.map(Float.init), shape: [3, 2, k, k]), options: Conv2dOptions(stride: stride, padding: pad)) })
            #expect(e <= 1e-3, "conv k\(k) s\(stride) p\(pad): \(e)")
        }
    }

    @Test func norms() {
        let gamma = Self.values(6, seed: 3, scale: 2)
        let gn = Self.error(shape: [2, 6, 3, 2], seed: 5, scale: 2, reference: {
            Self.normalize($0, groupSize: 12, gamma: { gamma[($0 / 6) % 6] }, eps: 1e-6)
        }, tape: { $0.groupNorm(groups: 3, weight: Tensor(gamma.map(Float.init), shape: [6]), bias: nil, eps: 1e-6) })
        #expect(gn <= 1e-3, "group norm \(gn)")
        let ln = Self.error(shape: [3, 6], seed: 9, scale: 2, reference: {
            Self.normalize($0, groupSize: 6, gamma: { gamma[$0 % 6] }, eps: 1e-5)
        }, tape: { $0.layerNorm(weight: Tensor(gamma.map(Float.init), shape: [6]), bias: nil, eps: 1e-5) })
        #expect(ln <= 1e-3, "layer norm \(ln)")
    }

    @Test func linearAndActivations() {
        let w = Self.values(4 * 5, seed: 21)
        let lin = Self.error(shape: [3, 5], seed: 22, reference: { x in
            (0..<3).flatMap { r in (0..<4).map { o in (0..<5).reduce(0.0) { $0 + x[r * 5 + $1] * w[o * 5 + $1] } } }
        }, tape: { $0.linear(weight: Tensor(w.map(Float.init), shape: [4, 5])) })
        #expect(lin <= 1e-3, "linear \(lin)")
        let sigmoid = { (x: Double) in 1 / (1 + Foundation.exp(-x)) }
        let cases: [(String, (Double) -> Double, (Variable) -> Variable)] = [
            ("silu", { $0 * sigmoid($0) }, { $0.silu() }),
            ("quick_gelu", { $0 * sigmoid(1.702 * $0) }, { $0.quickGelu() }),
            ("gelu", { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, { $0.gelu() }),
            ("gelu_tanh", { x in 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }, { $0.geluTanh() }),
        ]
        for (name, f, op) in cases {
            let e = Self.error(shape: [40], seed: 30, scale: 4, reference: { $0.map(f) }, tape: op)
            #expect(e <= 1e-3, "\(name) \(e)")
        }
    }

    @Test func attention() {
        let (nq, nk, d, dv) = (5, 4, 3, 2)
        let q = Self.values(nq * d, seed: 40), k = Self.values(nk * d, seed: 41), v = Self.values(nk * dv, seed: 42)
        func t(_ a: [Double], _ s: [Int]) -> Tensor { Tensor(a.map(Float.init), shape: s) }
        let eq = Self.error(shape: [1, nq, d], seed: 40, reference: { Self.attention(q: $0, k: k, v: v, nq: nq, nk: nk, d: d, dv: dv) },
                            tape: { x in Variable.attention(query: x, key: x.tape.variable(t(k, [1, nk, d])), value: x.tape.variable(t(v, [1, nk, dv]))) })
        let ek = Self.error(shape: [1, nk, d], seed: 41, reference: { Self.attention(q: q, k: $0, v: v, nq: nq, nk: nk, d: d, dv: dv) },
                            tape: { x in Variable.attention(query: x.tape.variable(t(q, [1, nq, d])), key: x, value: x.tape.variable(t(v, [1, nk, dv]))) })
        let ev = Self.error(shape: [1, nk, dv], seed: 42, reference: { Self.attention(q: q, k: k, v: $0, nq: nq, nk: nk, d: d, dv: dv) },
                            tape: { x in Variable.attention(query: x.tape.variable(t(q, [1, nq, d])), key: x.tape.variable(t(k, [1, nk, d])), value: x) })
        #expect(max(eq, ek, ev) <= 1e-3, "q \(eq) k \(ek) v \(ev)")
    }

    @Test func poolingAndDistance() {
        let pool = Self.error(shape: [1, 1, 5, 7], seed: 50, reference: { x in
            (0..<3).flatMap { i in (0..<2).map { j in
                let rows = (i * 5 / 3)..<(((i + 1) * 5 + 2) / 3), cols = (j * 7 / 2)..<(((j + 1) * 7 + 1) / 2)
                return rows.reduce(0.0) { s, y in cols.reduce(s) { $0 + x[y * 7 + $1] } } / Double(rows.count * cols.count)
            } }
        }, tape: { $0.adaptiveAvgPool2d(height: 3, width: 2) })
        #expect(pool <= 1e-3, "pool \(pool)")
        let target = Self.values(4, seed: 60)
        let norm = target.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let unit = target.map { $0 / norm }
        let dist = Self.error(shape: [2, 4], seed: 61, reference: { x in
            (0..<2).map { r in
                let row = Array(x[(r * 4)..<(r * 4 + 4)])
                let n = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let e = zip(row, unit).reduce(0.0) { $0 + ($1.0 / n - $1.1) * ($1.0 / n - $1.1) }.squareRoot()
                return 2 * pow(asin(e / 2), 2)
            }
        }, tape: { $0.normalizedRows().sphericalDistance(to: Tensor(unit.map(Float.init), shape: [4])) })
        #expect(dist <= 1e-3, "spherical distance \(dist)")
    }
}
