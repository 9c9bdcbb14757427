import Foundation
import Testing
import Tensor
import TestSupport

@Suite struct ConvTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("conv2d.safetensors") }

    func options(_ name: String) throws -> Conv2dOptions {
        let s: [Int] = try fx.option(name, "stride"), p: [Int] = try fx.option(name, "padding")
        return Conv2dOptions(stride: (s[0], s[1]), padding: (p[0], p[1]))
    }

    @Test(arguments: ["k3s1p1", "k3s2p1", "k3s2p0", "k1", "k1nobias", "k1s2", "k4s2p1", "k7p3", "k3rect", "k3tiny", "k5bigpad"])
    func smallShapes(_ name: String) throws {
        let out = try fx.tensor(name, "x").conv2d(weight: fx.tensor(name, "weight"), bias: try? fx.tensor(name, "bias"),
                                                  options: options(name))
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance)
    }

    @Test func nonContiguousInput() throws {
        let x = try fx.tensor("nhwc", "base").permuted([0, 3, 1, 2])
        #expect(!x.isContiguous)
        let out = x.conv2d(weight: try fx.tensor("nhwc", "weight"), bias: try fx.tensor("nhwc", "bias"), options: try options("nhwc"))
        #expect(scaledMaxError(out, try fx.tensor("nhwc", "out")) <= fp32Tolerance)
    }

    @Test(arguments: ["unet_conv_in", "unet_320", "unet_down_320", "unet_320_640", "unet_skip_960_640", "unet_1280", "unet_conv_out",
                      "winograd_odd", "winograd_wide"])
    func unetChannelCounts(_ name: String) throws {
        let out = try fx.tensor(name, "x").conv2d(weight: fx.tensor(name, "weight"), bias: fx.tensor(name, "bias"),
                                                  options: options(name))
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance)
    }

    /// fp32 weights as a model holds them (`conv2d(packedWeight:)`: the default model's decoded weights) on every
    /// kernel this CPU runs — the register tiles reading them as fp32, or OpenBLAS — against torch: strides, padding,
    /// 1×1, odd sizes, a batch, the U-Net's channel counts; the im2col path (Winograd off).
    @Test(arguments: ["k3s1p1", "k3s2p1", "k3s2p0", "k1", "k1nobias", "k1s2", "k4s2p1", "k7p3", "k3rect", "k3tiny", "k5bigpad",
                      "unet_conv_in", "unet_320", "unet_down_320", "unet_skip_960_640", "unet_conv_out", "winograd_odd"],
          HalfWeightKernel.available)
    func fp32WeightsOnEachKernel(_ name: String, kernel: HalfWeightKernel) throws {
        let weight = PackedTensor(try fx.tensor(name, "weight"))
        let out = try Tensor.withWinograd(false) {
            try fx.tensor(name, "x").conv2d(packedWeight: weight, bias: try? fx.tensor(name, "bias"), options: options(name),
                                            halfKernel: kernel)
        }
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance, "\(name) \(kernel)")
    }

    /// The Winograd path against torch's conv2d on the same fixtures: even and odd sizes, partial
    /// tiles, a long row of tiles, 64 to 1280 channels (1280 outputs: many blocks of output channels, the last partial).
    /// Every tile size (F(4,3), F(6,3)); both ways of transforming the weights: whole, and by blocks of output
    /// channels; and every products kernel this CPU runs (the fp16 GEMM's register tiles, OpenBLAS).
    @Test(arguments: ["unet_320", "unet_320_640", "unet_1280", "winograd_odd", "winograd_wide", "k3s1p1"],
          WinogradVariant.all)
    func winogradMatchesTorch(_ name: String, variant: WinogradVariant) throws {
        let out = try fx.tensor(name, "x").conv2dWinograd3x3(weight: fx.tensor(name, "weight"), bias: try? fx.tensor(name, "bias"),
                                                             tile: variant.tile, weightTransform: variant.weightTransform,
                                                             products: variant.products)
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance, "\(name) \(variant)")
    }

    /// The transforms' value-by-value gathers and stores (CPUs without AVX-512) and the register transposes give the
    /// same output bit for bit: partial tiles and groups, tiles spanning images, both tile sizes, both weight
    /// transforms. Where the CPU has no AVX-512 both runs take the value-by-value path. One test for all cases: the
    /// switch is process-wide (other tests running meanwhile get the same values either way).
    @Test func scalarTransformsMatchVector() throws {
        for name in ["unet_320_640", "winograd_odd", "winograd_wide", "k3s1p1"] {
            let x = try fx.tensor(name, "x"), weight = try fx.tensor(name, "weight"), bias = try? fx.tensor(name, "bias")
            for variant in WinogradVariant.all where variant.products != .blas {
                let run = { (vector: Bool) -> Tensor in
                    Tensor.withWinogradVectorTransforms(vector) {
                        x.conv2dWinograd3x3(weight: weight, bias: bias, tile: variant.tile,
                                            weightTransform: variant.weightTransform, products: variant.products)
                    }
                }
                let vector = run(true), scalar = run(false)
                #expect(scalar.toArray() == vector.toArray(), "\(name) \(variant)")
                #expect(scaledMaxError(scalar, try fx.tensor(name, "out")) <= fp32Tolerance, "\(name) \(variant)")
            }
        }
    }
}

/// `withWinogradProducts` (what `bench sd --alternate winograd-blas` switches) holds on the calling thread only, nests,
/// and restores the previous choice.
@Test func winogradProductsOverride() {
    let standard = Tensor.currentWinogradProducts
    #expect(standard == Tensor.winogradProducts)
    Tensor.withWinogradProducts(.blas) {
        #expect(Tensor.currentWinogradProducts == .blas)
        Tensor.withWinogradProducts(HalfWeightKernel.available[0]) {
            #expect(Tensor.currentWinogradProducts == HalfWeightKernel.available[0])
        }
        #expect(Tensor.currentWinogradProducts == .blas)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var elsewhere: HalfWeightKernel?
        Thread.detachNewThread { elsewhere = Tensor.currentWinogradProducts; done.signal() }
        done.wait()
        #expect(elsewhere == standard)
    }
    #expect(Tensor.currentWinogradProducts == standard)
}

/// One way through the Winograd convolution: the tile size, weights transformed whole or by blocks, and the products'
/// kernel.
struct WinogradVariant: Sendable, CustomStringConvertible {
    let tile: Tensor.WinogradTile
    let weightTransform: Tensor.WinogradWeights
    let products: HalfWeightKernel

    static let all: [WinogradVariant] = Tensor.WinogradTile.allCases.flatMap { tile in
        [Tensor.WinogradWeights.whole, .blocked].flatMap { transform in
            HalfWeightKernel.available.map { WinogradVariant(tile: tile, weightTransform: transform, products: $0) }
        }
    }

    var description: String { "F(\(tile.rawValue),3) \(weightTransform) \(products)" }
}
