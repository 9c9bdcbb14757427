import Tensor

// The same forward passes on tape `Variable`s, for gradients with respect to a model's input (CLIP guidance:
// latents → decoder → CLIP image tower → loss). Weights are constants. Each mirrors the Tensor forward above it.

/// An autoencoder whose decoder can be differentiated with respect to the latents.
public protocol DifferentiableLatentDecoding {
    /// `decode(_:)` on a tape.
    func decode(_ latents: Variable) -> Variable
}

extension Linear {
    public func callAsFunction(_ x: Variable) -> Variable { x.linear(weight: weight.unpacked(), bias: bias) }
}

extension Conv2d {
    public func callAsFunction(_ x: Variable) -> Variable { x.conv2d(weight: weight.unpacked(), bias: bias, options: options) }
}

extension GroupNorm {
    public func callAsFunction(_ x: Variable) -> Variable { x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps) }
}

extension LayerNorm {
    public func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

extension Activation {
    public func callAsFunction(_ x: Variable) -> Variable {
        switch self {
        case .quickGelu: x.quickGelu()
        case .gelu: x.gelu()
        case .geluTanh: x.geluTanh()
        case .silu: x.silu()
        }
    }
}

extension ResnetBlock2D {
    /// Without a time embedding (the autoencoders' resnets).
    func callAsFunction(_ x: Variable) -> Variable {
        precondition(timeEmbProj == nil, "a time-conditioned resnet needs its embedding")
        let h = conv2(norm2(conv1(norm1(x).silu())).silu())
        return (shortcut?(x) ?? x) + h
    }
}

extension VAEAttention {
    func callAsFunction(_ x: Variable) -> Variable {
        let (b, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = norm(x).reshaped([b, c, h * wd]).transposed(1, 2)
        let a = Variable.attention(query: q(y).unsqueezed(1), key: k(y).unsqueezed(1), value: v(y).unsqueezed(1))
        let o = out(a.reshaped([b, h * wd, c])).transposed(1, 2).reshaped([b, c, h, wd])
        return x + o
    }
}

extension VAEMidBlock {
    func callAsFunction(_ x: Variable) -> Variable {
        var h = resnet1(x)
        if let attention { h = attention(h) }
        return resnet2(h)
    }
}

extension VAEDecoder {
    func callAsFunction(_ z: Variable) -> Variable {
        var h = mid(convIn(z))
        for block in up {
            for r in block.resnets { h = r(h) }
            if let u = block.upsample { h = u(h.upsampleNearest2x()) }
        }
        return convOut(normOut(h).silu())
    }
}

extension AutoencoderKL: DifferentiableLatentDecoding {
    public func decode(_ latents: Variable) -> Variable {
        decoder(postQuantConv?(latents) ?? latents)
    }
}

extension VQModel: DifferentiableLatentDecoding {
    /// Quantised as `decode(_:)` does, with the straight-through estimator for the codebook lookup (VQ-VAE, van den
    /// Oord et al. 2017): the gradient passes the quantiser unchanged.
    public func decode(_ latents: Variable) -> Variable {
        decoder(postQuantConv(latents.straightThrough { quantize($0).quantized }))
    }
}

extension CLIPTextModel.EncoderLayer {
    func callAsFunction(_ x: Variable) -> Variable {
        precondition(!causal, "causal attention is not differentiable here (the text towers need no gradient)")
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
        let hd = d / heads
        let y = norm1(x)
        func split(_ t: Variable) -> Variable { t.reshaped([b, n, heads, hd]).transposed(1, 2) }
        let a = Variable.attention(query: split(q(y)), key: split(k(y)), value: split(v(y)))
        let h = x + out(a.transposed(1, 2).reshaped([b, n, d]))
        return h + fc2(activation(fc1(norm2(h))))
    }
}

extension CLIPVisionModel {
    /// `imageEmbeds(_:)` on a tape: pixels [B, 3, imageSize, imageSize] → image embeddings [B, projectionDim].
    public func imageEmbeds(_ pixels: Variable) throws -> Variable {
        guard pixels.shape.count == 4, pixels.shape[1] == 3, pixels.shape[2] == config.imageSize, pixels.shape[3] == config.imageSize else {
            throw ModelError.unsupported(location: "CLIP image encoder", detail: "needs [B, 3, \(config.imageSize), \(config.imageSize)] pixels, got \(pixels.shape)")
        }
        let b = pixels.shape[0], d = config.hiddenSize, p = config.patchSize
        let patches = pixels.conv2d(weight: patchEmbedding, bias: nil, options: Conv2dOptions(stride: p, padding: 0))
        let n = patches.shape[2] * patches.shape[3]
        let tokens = patches.reshaped([b, d, n]).transposed(1, 2)
        // The class token is a constant row: concatenated through a zero variable so it takes no gradient.
        let cls = pixels.tape.variable(Tensor.zeros([b, 1, d])).adding(classEmbedding.reshaped([1, 1, d]))
        var h = Variable.concat([cls, tokens], dim: 1).adding(positionEmbedding.reshaped([1, n + 1, d]))
        h = preNorm(h)
        for layer in layers { h = layer(h) }
        let pooled = postNorm(h.narrowed(1, start: 0, length: 1).reshaped([b, d]))
        return projection(pooled)
    }
}
