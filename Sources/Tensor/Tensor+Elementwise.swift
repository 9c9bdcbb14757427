import CKernels
import Foundation

// MARK: - Unary maps

extension Tensor {
    /// Applies `f` to every element into a new contiguous tensor, using all workers.
    public func map(_ f: (Float) -> Float) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let src = contiguous()
        let out = Tensor.empty(shape)
        let s = src.pointer, d = out.pointer
        Parallel.forRanges(count, minChunk: 16384) { r in
            for i in r { d[i] = f(s[i]) }
        }
        return out
    }

    /// Applies `f` in place (self must be contiguous and not shared with views you still need).
    public func mapInPlace(_ f: (Float) -> Float) {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        precondition(isContiguous, "mapInPlace needs a contiguous tensor")
        let d = pointer
        Parallel.forRanges(count, minChunk: 16384) { r in
            for i in r { d[i] = f(d[i]) }
        }
    }

    /// x * sigmoid(x) — torch.nn.functional.silu (vectorised C kernel).
    public func silu() -> Tensor { applying(pk_silu) }

    /// Exact GELU, 0.5x(1 + erf(x/√2)) — torch.nn.functional.gelu(approximate="none")
    /// (vectorised C kernel; erf to 1.5e-7).
    public func gelu() -> Tensor { applying(pk_gelu) }

    /// A C kernel `kernel(x, out, n)` over every element, split across the workers.
    private func applying(_ kernel: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let src = contiguous()
        let out = Tensor.empty(shape)
        let s = src.pointer, d = out.pointer
        Parallel.forRanges(count, minChunk: 16384) { r in kernel(s + r.lowerBound, d + r.lowerBound, r.count) }
        return out
    }

    /// tanh approximation — torch.nn.functional.gelu(approximate="tanh")
    public func geluTanh() -> Tensor {
        map { x in 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x))) }
    }

    /// x * sigmoid(1.702 x) — transformers QuickGELUActivation (OpenAI CLIP)
    public func quickGelu() -> Tensor { map { $0 / (1 + expf(-1.702 * $0)) } }

    public func scaled(_ s: Float) -> Tensor { map { $0 * s } }
}

// MARK: - Broadcasting binary ops

public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
        out[i] = x == 1 ? y : x
    }
    return out
}

extension Tensor {
    /// Elementwise `f(a, b)` with numpy/torch broadcasting into a new contiguous tensor.
    public static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let shape = broadcastShape(a.shape, b.shape)
        let out = Tensor.empty(shape)
        if a.shape == shape && b.shape == shape && a.isContiguous && b.isContiguous {
            let x = a.pointer, y = b.pointer, d = out.pointer
            Parallel.forRanges(out.count, minChunk: 16384) { r in
                for i in r { d[i] = f(x[i], y[i]) }
            }
            return out
        }
        let ea = a.expanded(to: shape), eb = b.expanded(to: shape)
        StridedLoop.run(shape: shape, strides: [out.strides, ea.strides, eb.strides]) { o, n, s in
            let d = out.pointer + o[0], x = ea.pointer + o[1], y = eb.pointer + o[2]
            let sx = s[1], sy = s[2]
            if sx == 1 && sy == 1 { for j in 0..<n { d[j] = f(x[j], y[j]) } }
            else if sx == 1 && sy == 0 { let v = y[0]; for j in 0..<n { d[j] = f(x[j], v) } }
            else if sx == 0 && sy == 1 { let v = x[0]; for j in 0..<n { d[j] = f(v, y[j]) } }
            else { for j in 0..<n { d[j] = f(x[j * sx], y[j * sy]) } }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, 0) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, 1) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, 2) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, 3) }

    /// `zip` for + − × ÷ (op 0…3) through the vectorised C loops (a closure per element cost a call per value).
    static func arithmetic(_ a: Tensor, _ b: Tensor, _ op: Int32) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let shape = broadcastShape(a.shape, b.shape)
        let out = Tensor.empty(shape)
        if a.shape == shape && b.shape == shape && a.isContiguous && b.isContiguous {
            let x = a.pointer, y = b.pointer, d = out.pointer
            Parallel.forRanges(out.count, minChunk: 16384) { r in
                pk_binary(x + r.lowerBound, y + r.lowerBound, d + r.lowerBound, r.count, op)
            }
            return out
        }
        let ea = a.expanded(to: shape), eb = b.expanded(to: shape)
        StridedLoop.run(shape: shape, strides: [out.strides, ea.strides, eb.strides]) { o, n, s in
            let d = out.pointer + o[0], x = ea.pointer + o[1], y = eb.pointer + o[2]
            let sx = s[1], sy = s[2]
            if sx == 1 && sy == 1 { pk_binary(x, y, d, n, op) }
            else if sx == 1 && sy == 0 { pk_binary_scalar(x, y[0], d, n, op, 0) }
            else if sx == 0 && sy == 1 { pk_binary_scalar(y, x[0], d, n, op, 1) }
            else {
                for j in 0..<n {
                    let u = x[j * sx], v = y[j * sy]
                    switch op {
                    case 0: d[j] = u + v
                    case 1: d[j] = u - v
                    case 2: d[j] = u * v
                    default: d[j] = u / v
                    }
                }
            }
        }
        return out
    }

    /// GEGLU's product on a [..., 2d] tensor: x[..., :d] · gelu(x[..., d:]) — diffusers' GEGLU after its projection.
    public func geglu() -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let src = contiguous()
        let width = shape[rank - 1]
        precondition(width % 2 == 0, "geglu needs an even last dimension, got \(shape)")
        let d = width / 2, rows = count / max(width, 1)
        var outShape = shape
        outShape[rank - 1] = d
        let out = Tensor.empty(outShape)
        let sp = src.pointer, op = out.pointer
        Parallel.forRanges(rows, minChunk: max(1, 16384 / max(d, 1))) { r in
            for row in r { pk_geglu(sp + row * width, sp + row * width + d, op + row * d, d) }
        }
        return out
    }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }

    /// Per-channel bias for NCHW-like tensors: adds `bias[c]` along dimension `dim`.
    public func addingChannelBias(_ bias: Tensor, dim: Int = 1) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "elementwise") }
        let d = axis(dim)
        precondition(bias.count == shape[d], "bias of \(bias.count) for \(shape[d]) channels")
        var bshape = [Int](repeating: 1, count: rank)
        bshape[d] = shape[d]
        return self + bias.reshaped(bshape)
    }
}

// MARK: - Reductions used by tests and tools

extension Tensor {
    public func sum() -> Double {
        let c = contiguous()
        var s = 0.0
        for i in 0..<c.count { s += Double(c.pointer[i]) }
        return s
    }

    /// max |self − other| over all elements (same shapes).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference of \(shape) and \(other.shape)")
        let a = contiguous(), b = other.contiguous()
        var m: Float = 0
        for i in 0..<a.count { m = max(m, abs(a.pointer[i] - b.pointer[i])) }
        return m
    }

    public func maxAbs() -> Float {
        let c = contiguous()
        var m: Float = 0
        for i in 0..<c.count { m = max(m, abs(c.pointer[i])) }
        return m
    }
}
