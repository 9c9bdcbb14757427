import Foundation
import Tensor

/// OpenBLAS picks its kernels when the library loads, from OPENBLAS_CORETYPE or CPU detection.
/// When its detection fell back to generic kernels on a CPU it did not know, restart this process
/// once with the right OPENBLAS_CORETYPE. A user's own OPENBLAS_CORETYPE always wins.
enum BLASCoreSelection {
    static func restartWithBetterKernelsIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["PHOSPHOR_KEEP_BLAS_CORE"] == nil else { return }
        guard let core = BLAS.betterCoreType(current: BLAS.coreName, cpuFlags: CPUInfo.flags) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var args = CommandLine.arguments.map { strdup($0) }
        args.append(nil)
        execv("/proc/self/exe", &args)
        // exec failed: carry on with the kernels we have.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
