import CZlib
import Foundation

public enum GzipError: Error, CustomStringConvertible {
    case corrupt(path: String, detail: String)
    public var description: String {
        switch self { case let .corrupt(path, detail): "\(path): cannot decompress: \(detail)" }
    }
}

/// Inflates a whole gzip (or zlib) stream held in memory.
enum Gzip {
    static func decompress(_ data: Data, path: String) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GzipError.corrupt(path: path, detail: "zlib init failed")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                try buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else {
                        throw GzipError.corrupt(path: path, detail: "zlib error \(status)")
                    }
                    output.append(out.baseAddress!, count: chunk - Int(stream.avail_out))
                }
                if status != Z_STREAM_END && stream.avail_in == 0 && stream.avail_out != 0 {
                    throw GzipError.corrupt(path: path, detail: "stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
