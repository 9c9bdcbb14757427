import ArgumentParser
import Foundation
import Tensor

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print version, BLAS in use, threads and CPU features.")

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        threadOptions.apply()
        print("phosphor \(phosphorVersion)")
        print("blas: \(BLAS.configuration)")
        print("threads: \(Parallel.threadCount) workers, \(BLAS.threadCount) BLAS")
        print("idle BLAS threads: \(BLAS.idleThreads)")
        print("cpu: \(CPUInfo.modelName) [\(CPUInfo.simdFeatures.joined(separator: " "))]")
        print("fp32 attention: \(AttentionKernel.preferred.rawValue) (of \(AttentionKernel.available.map(\.rawValue).joined(separator: ", ")); PHOSPHOR_ATTENTION_KERNEL)")
        print("fp16 weights in fp32 products: \(HalfWeightKernel.preferred.rawValue) (of \(HalfWeightKernel.available.map(\.rawValue).joined(separator: ", ")); PHOSPHOR_HALF_GEMM)")
        print("Winograd products: \(Tensor.winogradProducts.rawValue) (of \(HalfWeightKernel.available.map(\.rawValue).joined(separator: ", ")); PHOSPHOR_WINOGRAD_GEMM)")
        print("Winograd transforms: \(Tensor.winogradVectorTransforms ? "AVX-512 transposes" : "value by value") (PHOSPHOR_WINOGRAD_TRANSPOSE=scalar)")
        let kernels = BF16Compute.kernels.map(\.rawValue).joined(separator: ", ")
        print("bf16 compute: " + (BF16Compute.kernel.map { BF16Compute.enabled ? "on (\($0.rawValue))" : "available (--bf16; \(kernels))" }
                                  ?? "not available (no AMX-BF16 or AVX-512-BF16)"))
    }
}

enum CPUInfo {
    static var flags: Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    static var modelName: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    /// The SIMD extensions that matter for our kernels, in a fixed order.
    static var simdFeatures: [String] {
        let f = flags
        return ["avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16"].filter(f.contains)
    }
}
