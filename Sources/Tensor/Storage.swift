import Foundation

/// Contiguous fp32 memory that backs one or more tensors: owned (64-byte aligned heap memory)
/// or borrowed from another owner such as a memory-mapped checkpoint, which it keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    /// Bytes of the allocation behind `pointer` (≥ count floats; more when a cached buffer was reused).
    private let capacityBytes: Int

    /// Allocates `count` floats, zero-filled when `zeroed`.
    public init(count: Int, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw: UnsafeMutableRawPointer
        if let reused = LargeBufferCache.shared.take(bytes: bytes) {
            (raw, capacityBytes) = reused
        } else {
            raw = Self.allocate(bytes: bytes)
            capacityBytes = bytes
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
        self.count = count
        owner = nil
    }

    /// 64-byte aligned memory; from 4 MiB on, 2 MiB aligned and advised to use transparent huge pages (Linux's
    /// "madvise" THP mode): a fresh buffer then costs one page fault per 2 MiB instead of per 4 KiB (SD U-Net step at
    /// 512 px on 2 cores: 4 M page faults and ~20 % of the time before, 0.1 M after).
    public static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        #if os(Linux)
        if bytes >= 4 << 20 {
            var p: UnsafeMutableRawPointer?
            if posix_memalign(&p, 2 << 20, bytes) == 0, let p {
                _ = madvise(p, bytes, MADV_HUGEPAGE)
                return p
            }
        }
        #endif
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Wraps memory owned by `owner`; the storage never frees it.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        capacityBytes = 0
    }

    public var isBorrowed: Bool { owner != nil }

    deinit {
        if owner == nil { LargeBufferCache.shared.give(UnsafeMutableRawPointer(pointer), bytes: capacityBytes) }
    }
}

/// Freed tensor buffers of 4 MiB and more, kept for the next tensor of about their size instead of going back to the
/// kernel, which hands out every fresh page zeroed: a diffusion step frees and re-allocates the same activation and
/// widened-weight sizes again and again (SD 1.5 U-Net step at 512 px on 2 cores: `clear_page` 8.8 % of all cycles
/// without it, 5.3 % with it). At most `limitBytes` are held (least recently freed go first), so peak memory grows
/// by at most that; `releaseAll()` returns them (the pipeline does between stages and after each image).
public final class LargeBufferCache: @unchecked Sendable {
    /// The cache tensors use: PHOSPHOR_BUFFER_CACHE_MB (0 turns it off), default 768 MiB — SD 1.5 at 512 px churns
    /// more than 256 MiB of activations per step (kernel time per step about halved; `generate`'s peak RSS, reached
    /// outside the sampling loop, unchanged at 2.35 GiB).
    public static let shared = LargeBufferCache(
        limitBytes: (getenv("PHOSPHOR_BUFFER_CACHE_MB").flatMap { Int(String(cString: $0)) }.map { max(0, $0) } ?? 768) << 20)

    /// Buffers below this size are never kept.
    public static let minimumBytes = 4 << 20
    public let limitBytes: Int
    private var free: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    private var held = 0
    private let lock = NSLock()

    public init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// Bytes now held for reuse.
    public var heldBytes: Int { lock.lock(); defer { lock.unlock() }; return held }

    /// The smallest held buffer of at least `bytes` and at most a quarter (+ 2 MiB) larger, with its size.
    public func take(bytes: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard bytes >= Self.minimumBytes else { return nil }
        lock.lock(); defer { lock.unlock() }
        var best: Int?
        for (i, entry) in free.enumerated() where entry.bytes >= bytes && entry.bytes <= bytes + bytes / 4 + (2 << 20) {
            if best == nil || entry.bytes < free[best!].bytes { best = i }
        }
        guard let best else { return nil }
        let entry = free.remove(at: best)
        held -= entry.bytes
        return (entry.pointer, entry.bytes)
    }

    /// Keeps a buffer of `bytes` (from `TensorStorage.allocate`) for reuse, or frees it (small, or over the limit).
    public func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        var evicted: [UnsafeMutableRawPointer] = []
        lock.lock()
        if bytes >= Self.minimumBytes && bytes <= limitBytes {
            free.append((pointer, bytes))
            held += bytes
            while held > limitBytes {
                let oldest = free.removeFirst()
                held -= oldest.bytes
                evicted.append(oldest.pointer)
            }
        } else {
            evicted.append(pointer)
        }
        lock.unlock()
        for p in evicted { p.deallocate() }
    }

    /// Frees every held buffer.
    public func releaseAll() {
        lock.lock()
        let all = free
        free.removeAll()
        held = 0
        lock.unlock()
        for entry in all { entry.pointer.deallocate() }
    }
}
