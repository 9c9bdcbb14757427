import Foundation
import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS: C = alpha·op(A)·op(B) + beta·C.
public enum BLAS {
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched for k == 0 only when beta == 1; make the semantics explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * m * n * k) }
        if !transA && BF16Compute.takes(m: m, n: n, k: k) {
            BF16Compute.gemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                             beta: beta, c: c, ldc: ldc)
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C = A·B (row-major, no transposes) without adding to the FLOP counter: for algorithms that report their
    /// direct-computation count themselves (Winograd).
    static func sgemmUncounted(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 && k > 0 else { return }
        if BF16Compute.takes(m: m, n: n, k: k) {
            BF16Compute.gemm(transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }

    /// Threads OpenBLAS uses inside one call.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// OpenBLAS's pthread workers spin on sched_yield for 2²⁸ cycles (~0.1 s) after each call before they sleep, so
    /// between GEMMs they take the cores from Phosphor's own workers (SD 1.5 U-Net step at 256 px on 2 cores: 20 %
    /// system time, 13–19 % slower). Unless the user set OPENBLAS_THREAD_TIMEOUT, set it to OpenBLAS's minimum (2⁴
    /// cycles: sleep at once; waking costs microseconds per call), have OpenBLAS re-read its environment and restart its
    /// threads. Symbols looked up at run time: builds without them (OpenMP threading) are left as they are.
    /// Call before any other thread uses BLAS. Returns whether the threads were restarted.
    @discardableResult
    public static func sleepWhenIdle() -> Bool {
        if let own = getenv("OPENBLAS_THREAD_TIMEOUT") {
            idleThreads = "OPENBLAS_THREAD_TIMEOUT=\(String(cString: own)) (yours)"
            return false
        }
        guard let handle = dlopen(nil, RTLD_NOW),
              let readEnv = dlsym(handle, "openblas_read_env"),
              let shutdown = dlsym(handle, "blas_thread_shutdown_"),
              let initialize = dlsym(handle, "blas_thread_init") else {
            idleThreads = "OpenBLAS's own (no pthread OpenBLAS symbols to change it)"
            return false
        }
        typealias Call = @convention(c) () -> Int32
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        unsafeBitCast(readEnv, to: (@convention(c) () -> Void).self)()
        _ = unsafeBitCast(shutdown, to: Call.self)()
        _ = unsafeBitCast(initialize, to: Call.self)()
        idleThreads = "sleep at once (OPENBLAS_THREAD_TIMEOUT=4)"
        return true
    }

    /// What `sleepWhenIdle` did, for `phosphor info`.
    nonisolated(unsafe) public private(set) static var idleThreads = "OpenBLAS's own (spin ~0.1 s after each call)"

    /// OpenBLAS build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    public static var configuration: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return "\(config) (core: \(core))"
    }

    /// Runs `body` with OpenBLAS single-threaded, for work that is parallelised across calls instead.
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        let previous = threadCount
        if previous == 1 { return try body() }
        threadCount = 1
        defer { threadCount = previous }
        return try body()
    }
}

extension BLAS {
    /// OpenBLAS's name of the kernel set it chose at load time (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// Older OpenBLAS releases (Debian 12 ships 0.3.21) do not recognise newer CPUs and fall back to
    /// the SSE3 "Prescott" kernels, 5× slower than the CPU allows. Given the current core name and the
    /// CPU's flags, returns the OPENBLAS_CORETYPE that fits the CPU, or nil when the choice is already right.
    public static func betterCoreType(current: String, cpuFlags: Set<String>) -> String? {
        let fallbacks: Set<String> = ["prescott", "core2", "nehalem", "katmai", "coppermine", "northwood", "banias", "atom"]
        guard fallbacks.contains(current.lowercased()) else { return nil }
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        if cpuFlags.contains("avx") { return "Sandybridge" }
        return nil
    }
}

/// Counts the multiply-add work of every GEMM (2·m·n·k) while enabled: convolutions (im2col or 1×1 as GEMM),
/// linear layers and attention's two matrix products — the direct-computation FLOPs torch's FlopCounterMode reports
/// for conv, mm, addmm and bmm. For benchmarks; off (one branch) otherwise. Only work started by the counting thread
/// counts (its `Parallel` workers inherit the mark), so GEMMs of other threads running meanwhile are left out.
public enum FLOPCounter {
    nonisolated(unsafe) public private(set) static var enabled = false
    nonisolated(unsafe) private static var total = 0
    private static let lock = NSLock()
    private static let mark = ThreadOverride<Bool>()

    static func add(_ n: Int) { lock.lock(); total += n; lock.unlock() }

    /// Counts `flops` of work reused rather than redone (cached cross-attention keys and values), where this thread's
    /// GEMMs count: figures stay those of the direct computation, as torch's counter reports them.
    public static func creditReused(_ flops: Int) { if enabled && countsHere { add(flops) } }

    /// The FLOPs counted so far where this thread's GEMMs count (nil elsewhere, and while not counting).
    public static var runningTotal: Int? {
        guard enabled && countsHere else { return nil }
        lock.lock(); defer { lock.unlock() }
        return total
    }

    /// Whether this thread's GEMMs count (the counting thread, and `Parallel` workers running its work).
    static var countsHere: Bool { mark.value == true }

    /// Runs `body` with this thread's GEMMs counted or not.
    static func marking<T>(_ counting: Bool, _ body: () throws -> T) rethrows -> T {
        guard counting else { return try body() }
        return try mark.with(true, body)
    }

    /// Held for a whole count: counts from several threads (tests side by side) take turns.
    private static let countLock = NSLock()

    /// Runs `body` and returns its GEMM FLOPs (not reentrant; counts on other threads wait for this one).
    public static func count(_ body: () throws -> Void) rethrows -> Int {
        countLock.lock()
        defer { countLock.unlock() }
        lock.lock(); total = 0; lock.unlock()
        enabled = true
        defer { enabled = false }
        try marking(true, body)
        lock.lock(); defer { lock.unlock() }
        return total
    }
}
