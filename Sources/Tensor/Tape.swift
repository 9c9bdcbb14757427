import CKernels
import Foundation

/// Reverse-mode automatic differentiation over Tensor operations: every operation on `Variable`s computes its value
/// at once and records its vector-Jacobian product on the tape; `gradient(of:wrt:)` plays them back in reverse order
/// (Griewank & Walther, "Evaluating Derivatives", ch. 3; the tape of torch.autograd). Gradients flow to the
/// operations' tensor inputs only: weights are constants, which is what guidance needs (∂loss/∂latents).
///
/// Recorded closures capture tensors, never `Variable`s, so a tape and its variables form no cycle.
public final class Tape {
    fileprivate struct Node {
        let inputs: [Int]
        let vjp: (Tensor) -> [Tensor?]
    }
    private var nodes: [Node] = []

    public init() {}

    /// A leaf: a value gradients can be asked for.
    public func variable(_ value: Tensor) -> Variable {
        nodes.append(Node(inputs: [], vjp: { _ in [] }))
        return Variable(value: value, id: nodes.count - 1, tape: self)
    }

    /// Records an operation's result; `vjp(g)` maps the gradient of the result to one gradient per input
    /// (nil: no contribution), each of its input's shape.
    public func record(_ value: Tensor, inputs: [Variable], vjp: @escaping (Tensor) -> [Tensor?]) -> Variable {
        precondition(inputs.allSatisfy { $0.tape === self }, "a Variable of another tape")
        nodes.append(Node(inputs: inputs.map(\.id), vjp: vjp))
        return Variable(value: value, id: nodes.count - 1, tape: self)
    }

    /// ∂⟨seed, output⟩/∂v for every v in `wrt` (seed defaults to ones: the gradient of a scalar loss or of the
    /// output's sum). Saved activations of the nodes played back are released as they go.
    public func gradient(of output: Variable, seed: Tensor? = nil, wrt: [Variable]) -> [Tensor] {
        precondition(output.tape === self && wrt.allSatisfy { $0.tape === self }, "gradient across tapes")
        if let seed { precondition(seed.shape == output.value.shape, "seed \(seed.shape) for output \(output.value.shape)") }
        var grads = [Tensor?](repeating: nil, count: nodes.count)
        grads[output.id] = seed?.contiguous() ?? Tensor.full(output.value.shape, 1)
        let keep = Set(wrt.map(\.id))
        for id in stride(from: output.id, through: 0, by: -1) {
            guard let g = grads[id] else { continue }
            let node = nodes[id]
            guard !node.inputs.isEmpty else { continue }
            let inputGrads = node.vjp(g)
            precondition(inputGrads.count == node.inputs.count, "a pullback returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
            for (input, gi) in zip(node.inputs, inputGrads) {
                guard let gi else { continue }
                grads[input] = grads[input].map { $0 + gi } ?? gi.contiguous()
            }
            if !keep.contains(id) { grads[id] = nil }
            nodes[id] = Node(inputs: [], vjp: { _ in [] })   // played back: drop the saved tensors
        }
        return wrt.map { grads[$0.id] ?? Tensor.zeros($0.value.shape) }
    }
}

/// A tensor on a tape.
public struct Variable {
    public let value: Tensor
    let id: Int
    public let tape: Tape

    public var shape: [Int] { value.shape }

    fileprivate func unary(_ value: Tensor, _ vjp: @escaping (Tensor) -> Tensor) -> Variable {
        tape.record(value, inputs: [self]) { [vjp($0)] }
    }
}

// MARK: - Elementwise

extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let sa = a.shape, sb = b.shape
        return a.tape.record(a.value + b.value, inputs: [a, b]) { g in [g.summed(toShape: sa), g.summed(toShape: sb)] }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        let sa = a.shape, sb = b.shape
        return a.tape.record(a.value - b.value, inputs: [a, b]) { g in [g.summed(toShape: sa), g.scaled(-1).summed(toShape: sb)] }
    }

    /// self + c for a constant broadcast to self's shape.
    public func adding(_ c: Tensor) -> Variable {
        precondition(broadcastShape(shape, c.shape) == shape, "adding \(c.shape) would broadcast \(shape)")
        return unary(value + c) { $0 }
    }

    /// self · c (elementwise) for a constant broadcast to self's shape.
    public func multiplied(by c: Tensor) -> Variable {
        precondition(broadcastShape(shape, c.shape) == shape, "multiplying by \(c.shape) would broadcast \(shape)")
        return unary(value * c) { $0 * c }
    }

    /// scale · self + shift.
    public func affine(scale: Float, shift: Float = 0) -> Variable {
        unary(value.map { $0 * scale + shift }) { $0.scaled(scale) }
    }

    public func scaled(_ s: Float) -> Variable { affine(scale: s) }

    /// torch.clamp: the gradient passes where lo < x < hi (torch 2.15 gives zero at the bounds too).
    public func clamped(_ lo: Float, _ hi: Float) -> Variable {
        let x = value
        return unary(x.map { min(max($0, lo), hi) }) { g in Tensor.zip(g, x) { $1 > lo && $1 < hi ? $0 : 0 } }
    }

    /// An elementwise function with its derivative: y = f(x), ∂y/∂x = df(x).
    public func elementwise(_ f: (Float) -> Float, derivative df: @escaping (Float) -> Float) -> Variable {
        let x = value
        return unary(x.map(f)) { g in Tensor.zip(g, x) { $0 * df($1) } }
    }

    /// x · σ(x) — torch.nn.functional.silu (vectorised kernels both ways).
    public func silu() -> Variable {
        let x = value.contiguous()
        return unary(x.silu()) { g0 in
            let g = g0.contiguous(), out = Tensor.empty(x.shape)
            let xs = x.pointer, gs = g.pointer, os = out.pointer
            Parallel.forRanges(x.count, minChunk: 16384) { r in pk_silu_backward(xs + r.lowerBound, gs + r.lowerBound, os + r.lowerBound, r.count) }
            return out
        }
    }

    /// x · σ(1.702 x) — transformers QuickGELUActivation
    public func quickGelu() -> Variable {
        elementwise({ $0 / (1 + expf(-1.702 * $0)) }, derivative: { x in
            let s = 1 / (1 + expf(-1.702 * x))
            return s + 1.702 * x * s * (1 - s)
        })
    }

    /// Exact GELU — torch.nn.functional.gelu(approximate="none")
    public func gelu() -> Variable {
        elementwise({ 0.5 * $0 * (1 + erff($0 * 0.70710678118654752)) }, derivative: { x in
            0.5 * (1 + erff(x * 0.70710678118654752)) + x * expf(-0.5 * x * x) * 0.39894228040143268
        })
    }

    /// tanh GELU — torch.nn.functional.gelu(approximate="tanh")
    public func geluTanh() -> Variable {
        let k: Float = 0.79788456080286536
        return elementwise({ x in 0.5 * x * (1 + tanhf(k * (x + 0.044715 * x * x * x))) }, derivative: { x in
            let t = tanhf(k * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        })
    }
}

// MARK: - Shapes

extension Variable {
    public func reshaped(_ newShape: [Int]) -> Variable {
        let old = shape
        return unary(value.reshaped(newShape)) { $0.reshaped(old) }
    }

    public func permuted(_ order: [Int]) -> Variable {
        var inverse = order
        for (i, o) in order.enumerated() { inverse[o] = i }
        return unary(value.permuted(order).contiguous()) { $0.permuted(inverse).contiguous() }
    }

    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        var order = Array(0..<shape.count)
        order.swapAt(value.axis(a), value.axis(b))
        return permuted(order)
    }

    public func narrowed(_ dim: Int, start: Int, length: Int) -> Variable {
        let full = shape, d = value.axis(dim)
        return unary(value.narrowed(d, start: start, length: length).contiguous()) { g in
            let out = Tensor.zeros(full)
            out.narrowed(d, start: start, length: length).assign(g)
            return out
        }
    }

    public func unsqueezed(_ dim: Int) -> Variable { reshaped(value.unsqueezed(dim).shape) }

    public static func concat(_ parts: [Variable], dim: Int) -> Variable {
        precondition(!parts.isEmpty, "concat of no variables")
        let d = parts[0].value.axis(dim)
        let sizes = parts.map { $0.shape[d] }
        return parts[0].tape.record(Tensor.concat(parts.map(\.value), dim: d), inputs: parts) { g in
            g.split(sizes, dim: d).map { $0.contiguous() }
        }
    }

    /// Zero padding of the last two dims.
    public func padded2d(top: Int = 0, bottom: Int = 0, left: Int = 0, right: Int = 0) -> Variable {
        let (h, w) = (shape[shape.count - 2], shape[shape.count - 1])
        let r = shape.count
        return unary(value.padded2d(top: top, bottom: bottom, left: left, right: right)) { g in
            g.narrowed(r - 2, start: top, length: h).narrowed(r - 1, start: left, length: w).contiguous()
        }
    }

    /// torch.nn.functional.interpolate(scale_factor=2, mode="nearest").
    public func upsampleNearest2x() -> Variable {
        unary(value.upsampleNearest2x()) { $0.upsampleNearest2xBackward() }
    }

    /// torch.nn.functional.adaptive_avg_pool2d.
    public func adaptiveAvgPool2d(height: Int, width: Int) -> Variable {
        let (h, w) = (shape[2], shape[3])
        return unary(value.adaptiveAvgPool2d(height: height, width: width)) { $0.adaptiveAvgPool2dBackward(inputHeight: h, inputWidth: w) }
    }

    /// The value of `f(x)` with the identity as its gradient (a straight-through estimator, e.g. VQ quantisation).
    public func straightThrough(_ f: (Tensor) -> Tensor) -> Variable {
        let y = f(value)
        precondition(y.shape == shape, "straight-through needs a shape-preserving function")
        return unary(y) { $0 }
    }
}

// MARK: - Layers

extension Variable {
    /// torch.nn.functional.linear with constant weight [out, in] and bias.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Variable {
        let inShape = shape
        let w = weight.contiguous()
        return unary(value.linear(weight: w, bias: bias)) { g in
            let out = w.shape[0], inFeatures = w.shape[1]
            return Tensor.matmul(g.contiguous().reshaped([g.count / out, out]), w).reshaped(inShape.dropLast() + [inFeatures])
        }
    }

    /// torch.nn.functional.conv2d with constant weight and bias.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, options: Conv2dOptions = Conv2dOptions()) -> Variable {
        let inShape = shape
        let w = weight.contiguous()
        return unary(value.conv2d(weight: w, bias: bias, options: options)) { g in
            g.conv2dInputGradient(weight: w, inputShape: inShape, options: options)
        }
    }

    /// torch.nn.functional.group_norm with constant affine parameters.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Variable {
        let x = value.contiguous()
        return unary(x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps)) { g in
            Tensor.groupNormBackward(x, gradOutput: g, groups: groups, weight: weight, eps: eps)
        }
    }

    /// torch.nn.functional.layer_norm over the last dimension with constant affine parameters.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Variable {
        let x = value.contiguous()
        return unary(x.layerNorm(weight: weight, bias: bias, eps: eps)) { g in
            Tensor.layerNormBackward(x, gradOutput: g, weight: weight, eps: eps)
        }
    }

    /// torch.nn.functional.scaled_dot_product_attention (not causal) for q [..., Nq, D], k [..., Nk, D], v [..., Nk, Dv].
    public static func attention(query q: Variable, key k: Variable, value v: Variable, scale: Float? = nil) -> Variable {
        let qv = q.value.contiguous(), kv = k.value.contiguous(), vv = v.value.contiguous()
        let alpha = scale ?? 1 / Float(qv.shape[qv.rank - 1]).squareRoot()
        let out = Tensor.scaledDotProductAttention(query: qv, key: kv, value: vv, scale: alpha)
        return q.tape.record(out, inputs: [q, k, v]) { g in
            let (dq, dk, dv) = Tensor.attentionBackward(query: qv, key: kv, value: vv, gradOutput: g, scale: alpha)
            return [dq, dk, dv]
        }
    }
}

// MARK: - Reductions and losses

extension Variable {
    /// The sum of all elements, shape [1].
    public func sum() -> Variable {
        let s = shape
        return unary(Tensor([Float(value.sum())], shape: [1])) { g in Tensor.full(s, g.pointer[0]) }
    }

    /// The mean of all elements, shape [1].
    public func mean() -> Variable { sum().scaled(1 / Float(max(value.count, 1))) }

    /// Rows of the last dimension scaled to unit L2 norm (x / ‖x‖, as CLIP's embeddings).
    public func normalizedRows() -> Variable {
        let x = value.contiguous()
        let d = shape[shape.count - 1], rows = x.count / max(d, 1)
        var norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<d { s += Double(x.pointer[r * d + j]) * Double(x.pointer[r * d + j]) }
            norms[r] = Float(s.squareRoot())
        }
        let y = Tensor.empty(x.shape)
        for r in 0..<rows { for j in 0..<d { y.pointer[r * d + j] = x.pointer[r * d + j] / norms[r] } }
        return unary(y) { g0 in
            // ∂(x/‖x‖) = (g − y⟨g, y⟩) / ‖x‖
            let g = g0.contiguous()
            let dx = Tensor.empty(x.shape)
            for r in 0..<rows {
                var dot = 0.0
                for j in 0..<d { dot += Double(g.pointer[r * d + j]) * Double(y.pointer[r * d + j]) }
                for j in 0..<d { dx.pointer[r * d + j] = (g.pointer[r * d + j] - Float(dot) * y.pointer[r * d + j]) / norms[r] }
            }
            return dx
        }
    }

    /// Spherical distance of each unit row [..., D] to the unit vector `target` [D]: 2·arcsin(‖x − t‖ / 2)², shape
    /// [rows] — the loss of CLIP-guided diffusion (Crowson; diffusers' clip_guided_stable_diffusion spherical_dist_loss).
    public func sphericalDistance(to target: Tensor) -> Variable {
        let x = value.contiguous(), t = target.contiguous()
        let d = t.count, rows = x.count / max(d, 1)
        precondition(shape[shape.count - 1] == d, "spherical distance of rows of \(shape[shape.count - 1]) to a target of \(d)")
        var dist = [Float](repeating: 0, count: rows), lengths = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<d { let e = Double(x.pointer[r * d + j]) - Double(t.pointer[j]); s += e * e }
            lengths[r] = s.squareRoot()
            let a = asin(lengths[r] / 2)
            dist[r] = Float(2 * a * a)
        }
        return unary(Tensor(dist, shape: [rows])) { g in
            // d/dx 2·asin(n/2)² = 2·asin(n/2)/√(1 − n²/4) · (x − t)/n
            let dx = Tensor.empty(x.shape)
            for r in 0..<rows {
                let n = lengths[r]
                let factor = n > 0 ? 2 * asin(n / 2) / (1 - n * n / 4).squareRoot() / n : 0
                let gr = Double(g.pointer[r]) * factor
                for j in 0..<d { dx.pointer[r * d + j] = Float(gr * (Double(x.pointer[r * d + j]) - Double(t.pointer[j]))) }
            }
            return dx
        }
    }
}
