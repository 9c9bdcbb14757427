import ArgumentParser
import Foundation
import Tensor
import CKernels

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed and memory.",
        subcommands: [BenchOps.self, BenchModel.self, BenchSD.self])
}

struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "sgemm, U-Net-shaped conv2d 3×3 and blocked attention, as GFLOP/s and fractions of sgemm.")

    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Timed repetitions per case (the best is reported).") var repeats = 3

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    /// sgemm GFLOP/s at n = 2048 (the best of `repeats`): the machine's GEMM peak every figure is compared with.
    static func measureSGEMM(repeats: Int) -> Double {
        let n = 2048
        let a = Tensor.randomUniform([n, n], seed: 1), b = Tensor.randomUniform([n, n], seed: 2)
        let c = Tensor.empty([n, n])
        var seconds = Double.infinity
        for _ in 0..<repeats {
            let t = DispatchTime.now()
            BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            seconds = min(seconds, Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9)
        }
        return 2 * pow(Double(n), 3) / seconds / 1e9
    }

    func run() throws {
        threadOptions.apply()
        var report: [String: Any] = [
            "version": phosphorVersion, "blas": BLAS.configuration,
            "threads": Parallel.threadCount, "blas_threads": BLAS.threadCount,
        ]
        let say: (String) -> Void = { line in if !json { print(line) } }
        say("phosphor bench ops — \(Parallel.threadCount) threads, \(BLAS.configuration)")

        // sgemm, n = 2048 (fp32 whatever --bf16 says: the machine's peak every figure is compared with). With AMX, the
        // opt-in bf16 path is timed beside each case, with its error against the fp32 result.
        let bf16 = BF16Compute.available
        let kernelName = BF16Compute.kernel?.rawValue ?? "none"
        report["bf16_kernel"] = kernelName
        let gemmRate = BF16Compute.with(false) { Self.measureSGEMM(repeats: repeats) }
        report["sgemm_gflops"] = gemmRate
        say(String(format: "sgemm 2048³                 %8.1f GFLOP/s", gemmRate))
        if bf16 {
            let rate = BF16Compute.with(true) { Self.measureSGEMM(repeats: repeats) }
            report["bf16_gemm_gflops"] = rate
            say("bf16 GEMM 2048³ " + "(\(kernelName))".padding(toLength: 13, withPad: " ", startingAt: 0)
                + String(format: "%8.1f GFLOP/s  %5.2f× sgemm", rate, rate / gemmRate))
        }

        // conv2d 3×3 at the U-Net's shapes (512 and 256 px, batch 2) and the VAE decoder's (512 px, batch 1): the
        // im2col GEMM, Winograd F(4,3) and F(6,3) (`WinogradTile`), and their error against the im2col result.
        var convs: [[String: Any]] = []
        for (batch, channels, size) in [(2, 320, 64), (2, 640, 32), (2, 1280, 16), (2, 320, 32), (2, 640, 16), (2, 1280, 8),
                                        (2, 1280, 4), (1, 512, 64), (1, 512, 128), (1, 256, 256), (1, 128, 512)] {
            let x = Tensor.randomUniform([batch, channels, size, size], seed: 3)
            let w = Tensor.randomUniform([channels, channels, 3, 3], seed: 4, scale: 0.02)
            let bias = Tensor.randomUniform([channels], seed: 5)
            let options = Conv2dOptions(stride: 1, padding: 1)
            var entry: [String: Any] = ["batch": batch, "channels": channels, "size": size]
            let reference = BF16Compute.with(false) {
                let chosen = best(repeats) { _ = x.conv2d(weight: w, bias: bias, options: options) }
                let direct = Tensor.withWinograd(false) { best(repeats) { _ = x.conv2d(weight: w, bias: bias, options: options) } }
                let reference = Tensor.withWinograd(false) { x.conv2d(weight: w, bias: bias, options: options) }
                var tiles: [String] = []
                for tile in Tensor.WinogradTile.allCases {
                    let seconds = best(repeats) { _ = x.conv2dWinograd3x3(weight: w, bias: bias, tile: tile) }
                    let error = x.conv2dWinograd3x3(weight: w, bias: bias, tile: tile).maxAbsDifference(reference) / reference.maxAbs()
                    entry["winograd_f\(tile.rawValue)"] = ["seconds": seconds, "relative_error": Double(error)]
                    tiles.append(String(format: "F(%d,3) %.4f s %.0e", tile.rawValue, seconds, error))
                }
                let choice = Tensor.winogradChoice(batch: batch, channels: channels, outputs: channels, size: size)
                let rate = flops(batch, channels, size) / chosen / 1e9
                entry.merge(["seconds": chosen, "gflops": rate, "fraction_of_sgemm": rate / gemmRate, "im2col_seconds": direct,
                             "chosen": choice]) { $1 }
                say(String(format: "conv2d 3×3 %4d ch %3d×%3d ×%d %7.1f GFLOP/s %5.1f%% of sgemm (%.4f s, %@; im2col %.4f s, ",
                           channels, size, size, batch, rate, 100 * rate / gemmRate, chosen, choice, direct)
                    + tiles.joined(separator: ", ") + ")")
                return reference
            }
            if bf16 {
                let (seconds, error) = BF16Compute.with(true) {
                    (best(repeats) { _ = x.conv2d(weight: w, bias: bias, options: options) },
                     x.conv2d(weight: w, bias: bias, options: options).maxAbsDifference(reference) / reference.maxAbs())
                }
                entry.merge(["bf16_seconds": seconds, "bf16_relative_error": Double(error)]) { $1 }
                say("    bf16 " + "(\(kernelName))".padding(toLength: 21, withPad: " ", startingAt: 0)
                    + String(format: "%8.1f GFLOP/s  %5.2f× fp32       (%.4f s; rel. error %.1e against fp32)",
                           flops(batch, channels, size) / seconds / 1e9, entry["seconds"] as! Double / seconds, seconds, error))
            }
            convs.append(entry)
        }
        report["conv2d_3x3"] = convs

        // fp16 weights (as checkpoints store them) in fp32 products at U-Net shapes: each `HalfWeightKernel` — the
        // direct kernels read the halves in place, `blas` converts the weight and calls sgemm — and its largest
        // difference from `blas`'s result. Convolutions are 3×3 im2col (where Winograd does not take them) and 1×1.
        var halfReport: [[String: Any]] = []
        let halfCases: [(String, Int, Int, Int, Int)] = [  // kind, rows or batch, inputs, outputs, plane side
            ("linear", 8192, 320, 320, 0), ("linear", 8192, 320, 2560, 0), ("linear", 8192, 1280, 320, 0),
            ("linear", 2048, 640, 5120, 0), ("linear", 512, 1280, 1280, 0), ("linear", 128, 1280, 1280, 0),
            ("linear", 154, 768, 768, 0), ("conv3", 2, 1280, 1280, 16), ("conv3", 2, 2560, 1280, 16), ("conv3", 2, 1280, 1280, 8),
            ("conv3", 2, 1280, 1280, 4), ("conv3", 2, 320, 320, 64), ("conv3", 2, 640, 640, 32), ("conv1", 2, 320, 320, 64), ("conv1", 2, 1280, 1280, 8),
        ]
        for (kind, batch, inputs, outputs, side) in halfCases {
            let linear = kind == "linear"
            let x = linear ? Tensor.randomUniform([batch, inputs], seed: 6)
                           : Tensor.randomUniform([batch, inputs, side, side], seed: 6)
            let size = kind == "conv3" ? 3 : 1
            let w = PackedTensor.half(Tensor.randomUniform(linear ? [outputs, inputs] : [outputs, inputs, size, size],
                                                           seed: 7, scale: 0.05))
            let options = Conv2dOptions(stride: 1, padding: size / 2)
            let bias = Tensor.randomUniform([outputs], seed: 8)
            func product(_ kernel: HalfWeightKernel) -> Tensor {
                BF16Compute.with(false) {
                    Tensor.withWinograd(false) {
                        linear ? x.linear(packedWeight: w, bias: bias, halfKernel: kernel)
                               : x.conv2d(packedWeight: w, bias: bias, options: options, halfKernel: kernel)
                    }
                }
            }
            let flop = 2.0 * Double(batch * inputs * outputs * size * size * max(side * side, 1))
            let reference = product(.blas)
            var entry: [String: Any] = ["kind": kind, "batch_or_rows": batch, "inputs": inputs, "outputs": outputs, "side": side]
            var line: [String] = []
            for kernel in HalfWeightKernel.available {
                let seconds = best(repeats) { _ = product(kernel) }
                let difference = product(kernel).maxAbsDifference(reference) / reference.maxAbs()
                entry[kernel.rawValue] = ["seconds": seconds, "gflops": flop / seconds / 1e9, "relative_difference": Double(difference)]
                line.append(String(format: "%@ %.4f s %4.0f GFLOP/s", kernel.rawValue, seconds, flop / seconds / 1e9)
                            + (kernel == .blas ? "" : String(format: " (%.0e)", difference)))
            }
            if kind == "conv3" {
                // The Winograd path on the same fp16 weights (widened inside its weight transform), each tile size,
                // and what conv2d chooses.
                for tile in Tensor.WinogradTile.allCases {
                    let seconds = best(repeats) { _ = x.conv2dWinograd3x3(packedWeight: w, bias: bias, tile: tile) }
                    let difference = x.conv2dWinograd3x3(packedWeight: w, bias: bias, tile: tile).maxAbsDifference(reference)
                        / reference.maxAbs()
                    entry["winograd_f\(tile.rawValue)"] = ["seconds": seconds, "gflops": flop / seconds / 1e9,
                                                            "relative_difference": Double(difference)]
                    line.append(String(format: "F(%d,3) %.4f s %4.0f GFLOP/s (%.0e)", tile.rawValue, seconds, flop / seconds / 1e9,
                                       difference))
                }
                let choice = Tensor.winogradChoice(batch: batch, channels: inputs, outputs: outputs, size: side)
                entry["chosen"] = choice
                line.append("chosen: " + choice)
            }
            halfReport.append(entry)
            let shape = linear ? "linear \(batch)×\(inputs) → \(outputs)"
                               : "conv \(size)×\(size) \(inputs)→\(outputs) \(side)²×\(batch)"
            say("fp16 " + shape.padding(toLength: 30, withPad: " ", startingAt: 0) + line.joined(separator: ", "))
        }
        report["half_weight_products"] = halfReport

        var attentionFlops = 0.0
        // Blocked attention: SD1.5 at 512 px, batch 2 × 8 heads × 4096 tokens × 40, as the U-Net passes them: head
        // views of [batch, tokens, heads × 40] projections (rows 320 floats apart).
        let (batch, heads, tokens, dim) = (2, 8, 4096, 40)
        let q = Tensor.randomUniform([batch, tokens, heads, dim], seed: 6).transposed(1, 2)
        let k = Tensor.randomUniform([batch, tokens, heads, dim], seed: 7).transposed(1, 2)
        let v = Tensor.randomUniform([batch, tokens, heads, dim], seed: 8).transposed(1, 2)
        var attentionSeconds = Double.infinity
        var extraBytes = 0
        BF16Compute.with(false) {
            for _ in 0..<repeats {
                let before = Memory.resetPeak()
                let start = DispatchTime.now()
                let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                let outputBytes = out.count * 4
                extraBytes = max(extraBytes, Memory.peakResident() - before - outputBytes)
                attentionSeconds = min(attentionSeconds, seconds)
            }
            attentionFlops = 4.0 * Double(batch * heads) * Double(tokens) * Double(tokens) * Double(dim)
            let attentionRate = attentionFlops / attentionSeconds / 1e9
            let scratch = Tensor.attentionScratchBytes(queries: tokens, keys: tokens, heads: batch * heads, dim: dim)
            report["attention"] = [
                "shape": [batch, heads, tokens, dim], "seconds": attentionSeconds, "gflops": attentionRate,
                "fraction_of_sgemm": attentionRate / gemmRate, "extra_peak_bytes": extraBytes, "scratch_bytes": scratch,
                "full_score_matrix_bytes": tokens * tokens * 4,
            ]
            say(String(format: "attention 2×8×4096×40       %8.1f GFLOP/s  %5.1f%% of sgemm  (%.3f s, %@ kernel)",
                       attentionRate, 100 * attentionRate / gemmRate, attentionSeconds, AttentionKernel.preferred.rawValue))
            // Every fp32 kernel this CPU runs, with its largest difference from the chosen one's output.
            let chosen = Tensor.scaledDotProductAttention(query: q, key: k, value: v)
            var kernelReport: [String: Any] = [:]
            var kernelLine: [String] = []
            for kernel in AttentionKernel.available {
                let seconds = best(repeats) { _ = Tensor.scaledDotProductAttention(query: q, key: k, value: v, kernel: kernel) }
                let error = Tensor.scaledDotProductAttention(query: q, key: k, value: v, kernel: kernel).maxAbsDifference(chosen) / chosen.maxAbs()
                kernelReport[kernel.rawValue] = ["seconds": seconds, "relative_difference": Double(error)]
                kernelLine.append(String(format: "%@ %.3f s (%.0f GFLOP/s, %.0e)", kernel.rawValue, seconds, attentionFlops / seconds / 1e9, error))
            }
            report["attention_kernels"] = kernelReport
            say("    kernels: " + kernelLine.joined(separator: ", "))
            say(String(format: "attention extra peak memory  %7.1f MB (scratch %.1f MB; one full 4096² score matrix would be %.1f MB)",
                       Double(extraBytes) / 1e6, Double(scratch) / 1e6, Double(tokens * tokens * 4) / 1e6))
        }
        if bf16 {
            let reference = BF16Compute.with(false) { Tensor.scaledDotProductAttention(query: q, key: k, value: v) }
            let (seconds, error) = BF16Compute.with(true) {
                (best(repeats) { _ = Tensor.scaledDotProductAttention(query: q, key: k, value: v) },
                 Tensor.scaledDotProductAttention(query: q, key: k, value: v).maxAbsDifference(reference) / reference.maxAbs())
            }
            var entry = report["attention"] as! [String: Any]
            entry.merge(["bf16_seconds": seconds, "bf16_relative_error": Double(error)]) { $1 }
            report["attention"] = entry
            say("    bf16 " + "(\(kernelName))".padding(toLength: 21, withPad: " ", startingAt: 0)
                + String(format: "%8.1f GFLOP/s  %5.2f× fp32       (%.3f s; rel. error %.1e against fp32)",
                       attentionFlops / seconds / 1e9, attentionSeconds / seconds, seconds, error))
        }

        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    private func flops(_ batch: Int, _ channels: Int, _ size: Int) -> Double {
        2.0 * Double(batch * channels * channels * 9 * size * size)
    }

    private func best(_ repeats: Int, _ body: () -> Void) -> Double {
        body() // warm-up: page in buffers, start BLAS threads
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now()
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        }
        return best
    }
}

/// Resident-set measurements from /proc (Linux).
enum Memory {
    /// Resets the kernel's peak-RSS counter and returns the current RSS in bytes.
    static func resetPeak() -> Int {
        pk_release_free_memory() // return freed heap to the OS so new allocations show up in the peak
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        return field("VmRSS")
    }

    static func peakResident() -> Int { field("VmHWM") }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
