import ArgumentParser
import Foundation
import Tensor

@main
struct Phosphor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phosphor",
        abstract: "Phosphor: a terminal text-to-image studio (latent diffusion on the CPU).",
        version: phosphorVersion,
        subcommands: [Generate.self, Img2Img.self, Inpaint.self, Batch.self, Score.self, Search.self, StudioCommand.self, Info.self, Bench.self, ModelCommand.self],
        defaultSubcommand: StudioCommand.self)

    /// Exit codes: 0 done, 1 generation or I/O failure, 2 usage error (the message is one line on stderr).
    static func main() {
        BLASCoreSelection.restartWithBetterKernelsIfNeeded()
        BLAS.sleepWhenIdle()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            if error is Interrupted {
                FileHandle.standardError.write(Data("\n\(error)\n".utf8))
                Foundation.exit(130)
            }
            let usage = code == .validationFailure || error is ValidationError
            // One line that says what is wrong (ArgumentParser adds a usage hint after it; leave that to --help).
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? ""
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(usage ? 2 : 1)
        }
    }
}

/// Options every numeric command shares.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads for elementwise work and BLAS (default: all cores, or PHOSPHOR_THREADS).")
    var threads: Int?

    @Flag(help: ArgumentHelp("Multiply matrices in bfloat16: AMX tiles (Intel Xeon Sapphire Rapids and later) or AVX-512-BF16 (AMD Zen 4); or PHOSPHOR_BF16=1.",
                             discussion: "With AMX about 2× faster; images differ from the fp32 result by bf16 rounding. Where the CPU has neither a warning is printed and fp32 is used."))
    var bf16 = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func apply() {
        if bf16 {
            if BF16Compute.available {
                BF16Compute.enabled = true
            } else {
                FileHandle.standardError.write(Data("phosphor: --bf16 ignored: this CPU has neither AMX-BF16 nor AVX-512-BF16; computing in fp32\n".utf8))
            }
        }
        guard let threads else { return }
        Parallel.threadCount = threads
        BLAS.threadCount = threads
    }
}
