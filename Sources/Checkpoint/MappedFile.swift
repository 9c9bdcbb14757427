import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file; unmapped when the last reference goes.
public final class MappedFile: ReadOnlyMemoryMap, @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError.cannotOpen(path: path, reason: "not a regular file") }
        size = Int(info.st_size)
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        Self.registry.add(self)
    }

    /// Drops the pages of every live mapping from this process's resident set when the mappings total at least
    /// `minimumBytes` (read-only file pages: the next access reads them back from the page cache). The pipeline calls
    /// it between stages, so Stable Diffusion's text encoder is not resident while the U-Net runs, nor the U-Net while
    /// the VAE decodes: peak RSS follows the largest stage instead of the whole checkpoint.
    public static func dropResidentPages(minimumBytes: Int) {
        let files = registry.live()
        guard files.reduce(0, { $0 + $1.size }) >= minimumBytes else { return }
        for file in files where file.size > 0 {
            _ = madvise(UnsafeMutableRawPointer(mutating: file.base), file.size, MADV_DONTNEED)
        }
    }

    private static let registry = Registry()

    private final class Registry: @unchecked Sendable {
        private final class Weak { weak var file: MappedFile?; init(_ f: MappedFile) { file = f } }
        private var entries: [Weak] = []
        private let lock = NSLock()
        func add(_ f: MappedFile) {
            lock.lock(); defer { lock.unlock() }
            entries.removeAll { $0.file == nil }
            entries.append(Weak(f))
        }
        func live() -> [MappedFile] {
            lock.lock(); defer { lock.unlock() }
            return entries.compactMap { $0.file }
        }
    }

    deinit {
        if size == 0 { UnsafeMutableRawPointer(mutating: base).deallocate() }
        else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}
