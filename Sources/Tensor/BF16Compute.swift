import CKernels
import Foundation

/// The opt-in bf16 compute path: while enabled, every large GEMM (convolutions, linear layers, attention) rounds its
/// two operands to bfloat16 and multiplies them with fp32 accumulation — on Intel AMX tiles (Sapphire Rapids and later)
/// or with AVX-512-BF16 dot products (AMD Zen 4, Cooper Lake) — at bf16's precision (8 significant bits per operand;
/// a relative error near 2⁻⁸ per product, see `errorBound`). Activations, norms, softmax and sums stay fp32. Off by
/// default, since the torch fixtures hold the fp32 path to 1e-4; turned on by `--bf16` or `PHOSPHOR_BF16=1`, and only
/// where the CPU has one of the two kernels — elsewhere `enabled` stays false and everything runs in fp32.
public enum BF16Compute {
    public enum Kernel: String, Sendable, CaseIterable {
        case amx
        case avx512 = "avx512-bf16"
    }

    /// The kernels this CPU and OS run, fastest first.
    public static let kernels: [Kernel] = {
        var found: [Kernel] = []
        if pk_amx_bf16_available() != 0 { found.append(.amx) }
        if pk_avx512bf16_available() != 0 { found.append(.avx512) }
        return found
    }()

    /// The kernel the bf16 path uses: the fastest, or `PHOSPHOR_BF16_KERNEL` (amx, avx512-bf16) where available.
    public static let kernel: Kernel? = {
        if let name = getenv("PHOSPHOR_BF16_KERNEL").map({ String(cString: $0) }), let chosen = Kernel(rawValue: name) {
            return kernels.contains(chosen) ? chosen : nil
        }
        return kernels.first
    }()

    /// Whether AMX convolutions read their input in place (`pk_amx_conv`) where the shape allows, rather than through
    /// a packed im2col matrix; `PHOSPHOR_BF16_DIRECT=0` turns it off (to compare).
    static let directConvolution = getenv("PHOSPHOR_BF16_DIRECT").map { String(cString: $0) != "0" } ?? true

    /// Whether this CPU and OS can run the bf16 path.
    public static var available: Bool { kernel != nil }

    nonisolated(unsafe) private static var requested: Bool = getenv("PHOSPHOR_BF16").map { String(cString: $0) == "1" } ?? false

    /// This thread's choices from `with` and `using`, over the process-wide ones.
    private static let onOverride = ThreadOverride<Bool>(), kernelOverride = ThreadOverride<Kernel>()

    /// The kernel GEMMs on this thread use, nil when the bf16 path is off here: requested (process-wide, or by `with`
    /// on this thread) and available. Read where a GEMM, convolution or attention starts, on the calling thread.
    public static var currentKernel: Kernel? {
        guard onOverride.value ?? requested else { return nil }
        if let chosen = kernelOverride.value { return kernels.contains(chosen) ? chosen : nil }
        return kernel
    }

    /// Whether GEMMs on this thread take the bf16 path.
    public static var enabled: Bool {
        get { currentKernel != nil }
        set { requested = newValue }
    }

    /// Runs `body` with the bf16 path on or off (where available) on this thread only, restoring the previous choice:
    /// other threads keep theirs (tests comparing both paths run side by side).
    public static func with<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        try onOverride.with(on, body)
    }

    /// Runs `body` with this thread's bf16 products on `kernel` (one of `kernels`), e.g. to test or time each.
    public static func using<T>(_ kernel: Kernel, _ body: () throws -> T) rethrows -> T {
        try kernelOverride.with(kernel, body)
    }

    /// Whether a product of this size goes to the tiles: big enough to amortise packing (16×16×32 tiles).
    static func takes(m: Int, n: Int, k: Int) -> Bool {
        enabled && m >= 16 && n >= 16 && k >= 32 && m * n * k >= 1 << 18
    }

    /// The bound on |bf16 result − exact result| for one output with |A|·|B| summing to `absDot`: each operand
    /// rounded to bf16 (relative 2⁻⁹ each), products exact in fp32, K fp32 additions (relative 2⁻²⁴ each).
    public static func errorBound(absDot: Double, k: Int) -> Double {
        let u = 1.0 / 512
        return (2 * u + u * u + Double(k) / Double(1 << 24)) * absDot * 1.0001
    }

    /// C = alpha·A·op(B) + beta·C (row-major; A never transposed) on AMX tiles: both operands packed to bf16 tiles,
    /// then multiplied.
    static func gemm(transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        product(m: m, n: n, k: k, a: a, lda: lda, alpha: alpha, beta: beta, c: c, ldc: ldc) {
            let bp = packBuffers.take(pk_bf16_panel_elements(n, k))
            split((n + 15) / 16) { r in pk_bf16_pack_b(b, ldb, transB ? 1 : 0, k, n, r.lowerBound, r.upperBound, bp.pointer) }
            return bp
        }
    }

    /// C (m × n, row-major) = A·Wᵀ + beta·C for A m × k (fp32) and W n × k in IEEE half (an fp16 linear weight, kept
    /// alive by `owner`; packed once per `cachingWeights` scope).
    static func gemm(halfTransposedB w: UnsafeRawPointer, owner: AnyObject, m: Int, n: Int, k: Int, a: UnsafePointer<Float>,
                     beta: Float, c: UnsafeMutablePointer<Float>) {
        let half = w.assumingMemoryBound(to: UInt16.self)
        product(m: m, n: n, k: k, a: a, lda: k, alpha: 1, beta: beta, c: c, ldc: n) {
            packedWeight(w, owner: owner, layout: .transposedB, elements: pk_bf16_panel_elements(n, k), sourceBytes: n * k * 2) { bp in
                split((n + 15) / 16) { r in pk_bf16_pack_bt_f16(half, k, k, n, r.lowerBound, r.upperBound, bp) }
            }
        }
    }

    /// Packs A, gets B packed from `packedB` (to release), multiplies.
    private static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, alpha: Float, beta: Float,
                                c: UnsafeMutablePointer<Float>, ldc: Int, packedB: () -> BufferPool.Buffer) {
        let ap = packA(a, lda: lda, m: m, k: k)
        let bp = packedB()
        defer { release(ap); release(bp) }
        multiply(ap, bp, m: m, n: n, k: k, alpha: alpha, beta: beta, c: c, ldc: ldc)
    }

    /// A (m × k, row-major) packed into row blocks of bf16 tiles, in a pooled buffer (hand it back with `release`).
    static func packA(_ a: UnsafePointer<Float>, lda: Int, m: Int, k: Int) -> BufferPool.Buffer {
        let buffer = packBuffers.take(pk_bf16_panel_elements(m, k))
        split((m + 15) / 16) { r in pk_bf16_pack_a(a, lda, m, k, r.lowerBound, r.upperBound, buffer.pointer) }
        return buffer
    }

    /// The same from IEEE half values (fp16 weights, rows `k` apart, kept alive by `owner`; packed once per
    /// `cachingWeights` scope).
    static func packA(half: UnsafeRawPointer, owner: AnyObject, m: Int, k: Int) -> BufferPool.Buffer {
        let a = half.assumingMemoryBound(to: UInt16.self)
        return packedWeight(half, owner: owner, layout: .rowsA, elements: pk_bf16_panel_elements(m, k), sourceBytes: m * k * 2) { p in
            split((m + 15) / 16) { r in pk_bf16_pack_a_f16(a, k, m, k, r.lowerBound, r.upperBound, p) }
        }
    }

    /// A pooled buffer for a packed B operand of n columns.
    static func bufferForB(n: Int, k: Int) -> BufferPool.Buffer { packBuffers.take(pk_bf16_panel_elements(n, k)) }

    /// A pooled buffer of `elements` bf16 values (hand it back with `release`).
    static func buffer(_ elements: Int) -> BufferPool.Buffer { packBuffers.take(elements) }

    /// Hands a buffer back (cached weights stay with their cache).
    static func release(_ buffer: BufferPool.Buffer) { if !buffer.cached { packBuffers.give(buffer) } }

    // MARK: packed weights kept across calls

    /// How a cached weight was packed.
    enum WeightLayout: Int { case transposedB, rowsA, convolutionTaps }

    /// Runs `body` with the bf16-packed fp16 weights of this thread's products kept for reuse — a sampling loop
    /// multiplies by the same weights every step, so each is packed once instead of once per step. A weight read
    /// from a read-only memory map (`ReadOnlyMemoryMap`) has its source pages dropped from the resident set once
    /// packed, so memory holds about one copy of the weights, not two. The cache empties when the last scope ends.
    /// Only IEEE-half weights are cached (fp32 and bf16 checkpoints convert per call, at a new address each time).
    public static func cachingWeights<T>(_ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        weightCache.enter()
        defer { weightCache.leave() }
        return try caching.with(true, body)
    }

    /// Bytes of packed weights held now.
    public static var cachedWeightBytes: Int { weightCache.bytes }

    private static let caching = ThreadOverride<Bool>()
    private static let weightCache = WeightCache()

    /// A weight packed by `pack` into `elements` bf16 values: from this thread's cache scope (packed on first use),
    /// or into a pooled buffer outside one. `source` (`sourceBytes` long) is the weight as stored, alive with `owner`.
    static func packedWeight(_ source: UnsafeRawPointer, owner: AnyObject, layout: WeightLayout, elements: Int, sourceBytes: Int,
                             pack: (UnsafeMutablePointer<UInt16>) -> Void) -> BufferPool.Buffer {
        guard caching.value == true else {
            let buffer = packBuffers.take(elements)
            pack(buffer.pointer)
            return buffer
        }
        let key = WeightCache.Key(address: UInt(bitPattern: source), bytes: sourceBytes, layout: layout.rawValue, elements: elements)
        if let hit = weightCache.find(key, owner: owner) { return hit }
        let buffer = BufferPool.Buffer(capacity: elements, cached: true)
        pack(buffer.pointer)
        weightCache.store(key, owner: owner, buffer: buffer)
        if owner is ReadOnlyMemoryMap { dropResidentPages(source, bytes: sourceBytes) }
        return buffer
    }

    /// madvise(DONTNEED) on the whole pages inside source ..< source + bytes.
    private static func dropResidentPages(_ source: UnsafeRawPointer, bytes: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: source) + page - 1) / page * page
        let end = (Int(bitPattern: source) + bytes) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, MADV_DONTNEED)
    }

    /// C = alpha·A·B + beta·C from packed operands, the larger block dimension split between the BLAS threads in
    /// whole 2×2 tile blocks.
    static func multiply(_ a: BufferPool.Buffer, _ b: BufferPool.Buffer, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        let mt = (m + 15) / 16, nt = (n + 15) / 16
        let ap = a.pointer, bp = b.pointer
        guard let kernel = currentKernel else { preconditionFailure("bf16 product without a bf16 kernel") }
        if nt >= mt {
            split((nt + 1) / 2) { r in
                run(kernel, ap, bp, m: m, n: n, k: k, rowBlocks: 0..<mt, columnBlocks: 2 * r.lowerBound..<min(nt, 2 * r.upperBound),
                    alpha: alpha, beta: beta, c: c, ldc: ldc)
            }
        } else {
            split((mt + 1) / 2) { r in
                run(kernel, ap, bp, m: m, n: n, k: k, rowBlocks: 2 * r.lowerBound..<min(mt, 2 * r.upperBound), columnBlocks: 0..<nt,
                    alpha: alpha, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    /// One packed product on `kernel` for row blocks × column blocks of 16 (any thread: the kernel is given).
    static func run(_ kernel: Kernel, _ ap: UnsafePointer<UInt16>, _ bp: UnsafePointer<UInt16>, m: Int, n: Int, k: Int,
                    rowBlocks: Range<Int>, columnBlocks: Range<Int>, alpha: Float, beta: Float,
                    c: UnsafeMutablePointer<Float>, ldc: Int) {
        switch kernel {
        case .amx:
            pk_amx_gemm(ap, bp, m, n, k, rowBlocks.lowerBound, rowBlocks.upperBound, columnBlocks.lowerBound,
                        columnBlocks.upperBound, alpha, beta, c, ldc)
        case .avx512:
            pk_avx512bf16_gemm(ap, bp, m, n, k, rowBlocks.lowerBound, rowBlocks.upperBound, columnBlocks.lowerBound,
                               columnBlocks.upperBound, alpha, beta, c, ldc)
        }
    }

    /// Runs `body` over 0..<count split between the BLAS threads (inline when BLAS is single-threaded).
    static func split(_ count: Int, _ body: (Range<Int>) -> Void) {
        if BLAS.threadCount <= 1 || Parallel.threadCount <= 1 || count <= 1 { body(0..<count) } else { Parallel.forRanges(count, body) }
    }

    /// Packed-operand buffers kept between GEMMs: fresh multi-megabyte buffers cost a page clear per call.
    private static let packBuffers = BufferPool()
}

/// Memory whose pages are read-only file pages (a checkpoint's memory map): they may be dropped from the resident
/// set at any time and read back from the page cache on the next access.
public protocol ReadOnlyMemoryMap: AnyObject {}

/// Packed weights of the `cachingWeights` scopes, keyed by source address, layout and size, each valid only while
/// the object that owned its source is alive (a new map at a freed map's address is a different weight).
final class WeightCache: @unchecked Sendable {
    struct Key: Hashable { let address: UInt; let bytes: Int; let layout: Int; let elements: Int }
    private final class Entry {
        weak var owner: AnyObject?
        let buffer: BufferPool.Buffer
        init(owner: AnyObject, buffer: BufferPool.Buffer) { self.owner = owner; self.buffer = buffer }
    }
    private var entries: [Key: Entry] = [:]
    private var scopes = 0
    private(set) var bytes = 0
    private let lock = NSLock()

    func enter() { lock.lock(); scopes += 1; lock.unlock() }

    func leave() {
        lock.lock()
        scopes -= 1
        if scopes == 0 { entries.removeAll(); bytes = 0 }
        lock.unlock()
    }

    func find(_ key: Key, owner: AnyObject) -> BufferPool.Buffer? {
        lock.lock(); defer { lock.unlock() }
        guard let entry = entries[key] else { return nil }
        if entry.owner === owner { return entry.buffer }
        entries[key] = nil
        bytes -= entry.buffer.capacity * 2
        return nil
    }

    func store(_ key: Key, owner: AnyObject, buffer: BufferPool.Buffer) {
        lock.lock(); defer { lock.unlock() }
        guard scopes > 0 else { return }
        if let old = entries[key] { bytes -= old.buffer.capacity * 2 }
        entries[key] = Entry(owner: owner, buffer: buffer)
        bytes += buffer.capacity * 2
    }
}

/// A few reusable UInt16 buffers, handed out by size (thread-safe; at most four kept).
final class BufferPool: @unchecked Sendable {
    final class Buffer {
        let pointer: UnsafeMutablePointer<UInt16>
        let capacity: Int
        /// Held by the weight cache: never handed back to a pool.
        let cached: Bool
        init(capacity: Int, cached: Bool = false) {
            self.capacity = capacity
            self.cached = cached
            pointer = TensorStorage.allocate(bytes: max(capacity, 1) * 2).bindMemory(to: UInt16.self, capacity: max(capacity, 1))
        }
        deinit { pointer.deallocate() }
    }
    private var free: [Buffer] = []
    private let lock = NSLock()

    func take(_ capacity: Int) -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        if let i = free.indices.filter({ free[$0].capacity >= capacity }).min(by: { free[$0].capacity < free[$1].capacity }) {
            return free.remove(at: i)
        }
        return Buffer(capacity: capacity)
    }

    func give(_ buffer: Buffer) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        if free.count > 4 { free.remove(at: free.indices.min(by: { free[$0].capacity < free[$1].capacity })!) }
    }
}
