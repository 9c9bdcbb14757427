import Foundation

/// Contiguous fp32 memory that backs one or more tensors: owned (64-byte aligned heap memory)
/// or borrowed from another owner such as a memory-mapped checkpoint, which it keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?

    /// Allocates `count` floats, zero-filled when `zeroed`.
    public init(count: Int, zeroed: Bool = false) {
        precondition(count >= 0, "negative storage size")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = BufferCache.take(bytes: bytes) ?? UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
        self.count = count
        owner = nil
    }

    /// Wraps memory owned by `owner`; the storage never frees it.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    public var isBorrowed: Bool { owner != nil }

    deinit {
        if owner == nil {
            let raw = UnsafeMutableRawPointer(pointer)
            if !BufferCache.give(raw, bytes: max(count, 1) * MemoryLayout<Float>.stride) { raw.deallocate() }
        }
    }
}

/// Large tensor buffers kept for reuse instead of being returned to the system: a diffusion loop allocates the same
/// activation and widened-weight sizes every step, and memory fresh from the kernel costs a page fault and a zeroing
/// per 4 KiB page (perf on a 256 px SD U-Net step: ~12 % of the time in page faults before this cache). Buffers of
/// at least 256 KiB are kept by exact size, up to `limitBytes` in all (`PHOSPHOR_BUFFER_CACHE_MB`, default 512;
/// 0 turns the cache off); a buffer that would pass the limit is freed as before.
public enum BufferCache {
    static let minBytes = 1 << 18
    nonisolated(unsafe) public static var limitBytes: Int = {
        if let v = ProcessInfo.processInfo.environment["PHOSPHOR_BUFFER_CACHE_MB"], let mb = Int(v), mb >= 0 { return mb << 20 }
        return 512 << 20
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var cached = 0

    /// Bytes held for reuse now.
    public static var cachedBytes: Int { lock.lock(); defer { lock.unlock() }; return cached }

    static func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minBytes else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard let p = free[bytes]?.popLast() else { return nil }
        cached -= bytes
        return p
    }

    static func give(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= minBytes else { return false }
        lock.lock()
        defer { lock.unlock() }
        guard cached + bytes <= limitBytes else { return false }
        free[bytes, default: []].append(p)
        cached += bytes
        return true
    }

    /// Returns every kept buffer to the system (e.g. after a generation, before a long idle time).
    public static func drain() {
        lock.lock()
        defer { lock.unlock() }
        for p in free.values.joined() { p.deallocate() }
        free = [:]
        cached = 0
    }
}
