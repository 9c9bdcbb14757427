import Checkpoint
import Tensor

/// torch.nn.Linear (weight [out, in], optional bias). The weight stays in its stored type until used.
public struct Linear {
    public let weight: PackedTensor
    public let bias: Tensor?

    public init(_ w: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try w.packed("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try w.tensor("bias", shape: [outFeatures]) : nil
    }

    /// Loads the bias only when the checkpoint has one.
    public init(_ w: WeightReader, inFeatures: Int, outFeatures: Int, optionalBias: Bool) throws {
        try self.init(w, inFeatures: inFeatures, outFeatures: outFeatures, bias: w.has("bias"))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(packedWeight: weight, bias: bias) }
}

/// torch.nn.LayerNorm over the last dimension.
public struct LayerNorm {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ w: WeightReader, dim: Int, eps: Float) throws {
        weight = try w.tensor("weight", shape: [dim])
        bias = try w.tensor("bias", shape: [dim])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// torch.nn.GroupNorm.
public struct GroupNorm {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(_ w: WeightReader, groups: Int, channels: Int, eps: Float) throws {
        weight = try w.tensor("weight", shape: [channels])
        bias = try w.tensor("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps) }

    /// silu(norm(x)), fused.
    public func silu(_ x: Tensor) -> Tensor { x.groupNormSiLU(groups: groups, weight: weight, bias: bias, eps: eps) }
}

/// torch.nn.Conv2d. The weight stays in its stored type until used.
public struct Conv2d {
    public let weight: PackedTensor
    public let bias: Tensor?
    public let options: Conv2dOptions

    public init(_ w: WeightReader, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) throws {
        weight = try w.packed("weight", shape: [outChannels, inChannels, kernel, kernel])
        self.bias = bias ? try w.tensor("bias", shape: [outChannels]) : nil
        options = Conv2dOptions(stride: stride, padding: padding)
    }

    public var outChannels: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.conv2d(packedWeight: weight, bias: bias, options: options) }
}

public enum Activation: String, Decodable, Sendable {
    case quickGelu = "quick_gelu"
    case gelu
    case geluTanh = "gelu_pytorch_tanh"
    case silu

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .quickGelu: x.quickGelu()
        case .gelu: x.gelu()
        case .geluTanh: x.geluTanh()
        case .silu: x.silu()
        }
    }
}
