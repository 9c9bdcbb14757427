import ArgumentParser
import Tensor

@main
struct Phosphor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phosphor",
        abstract: "Phosphor: a terminal text-to-image studio (latent diffusion on the CPU).",
        version: phosphorVersion,
        subcommands: [Info.self, Bench.self, ModelCommand.self])

    static func main() {
        BLASCoreSelection.restartWithBetterKernelsIfNeeded()
        main(nil)
    }
}

/// Options every numeric command shares.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads for elementwise work and BLAS (default: all cores, or PHOSPHOR_THREADS).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func apply() {
        guard let threads else { return }
        Parallel.threadCount = threads
        BLAS.threadCount = threads
    }
}
