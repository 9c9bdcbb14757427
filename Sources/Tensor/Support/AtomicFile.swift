#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be written; the message names the path and the system's reason.
public struct FileWriteError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): cannot write: \(reason)" }
}

/// Writes files so that readers never see a half-written one: the bytes go to a temporary file
/// in the destination's folder, are flushed to disk, then renamed into place.
/// Without `overwrite`, an existing destination is never replaced (link(2) fails on it atomically).
public enum AtomicFile {
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, overwrite: Bool) throws {
        try write(to: path, overwrite: overwrite) { fd, _ in try writeAll(fd, bytes, path: path) }
    }

    /// Writes every byte to `fd`, retrying short writes and EINTR; errors name `path`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileWriteError(path: path, reason: String(cString: strerror(errno)))
            }
            done += n
        }
    }

    public static func write(_ bytes: [UInt8], to path: String, overwrite: Bool) throws {
        try bytes.withUnsafeBytes { try write($0, to: path, overwrite: overwrite) }
    }

    /// Streams content through `body(fd, tempPath)` and commits it atomically.
    public static func write(to path: String, overwrite: Bool, _ body: (Int32, String) throws -> Void) throws {
        if !overwrite && access(path, F_OK) == 0 {
            throw FileWriteError(path: path, reason: "file exists (refusing to overwrite)")
        }
        let folder = parentFolder(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(folder)/.\(name).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileWriteError(path: path, reason: String(cString: strerror(errno))) }
        let temp = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        var committed = false
        defer { if !committed { unlink(temp) } }
        do {
            try body(fd, temp)
            guard fsync(fd) == 0 else { throw FileWriteError(path: path, reason: String(cString: strerror(errno))) }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw FileWriteError(path: path, reason: String(cString: strerror(errno))) }
        fchmodDefault(temp)
        if overwrite {
            guard rename(temp, path) == 0 else { throw FileWriteError(path: path, reason: String(cString: strerror(errno))) }
        } else {
            guard link(temp, path) == 0 else {
                let reason = errno == EEXIST ? "file exists (refusing to overwrite)" : String(cString: strerror(errno))
                throw FileWriteError(path: path, reason: reason)
            }
            unlink(temp)
        }
        committed = true
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// mkstemp creates 0600 files; give the result the usual 0666 & ~umask.
    private static func fchmodDefault(_ path: String) {
        let mask = umask(0)
        umask(mask)
        chmod(path, 0o666 & ~mask)
    }
}
