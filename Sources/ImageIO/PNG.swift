import CPNG
import Foundation
import Tensor

/// A decoded PNG in its own sample format: 1–4 channels (gray, gray+alpha, RGB, RGBA after palette
/// and tRNS expansion), 8 or 16 bits per sample.
public struct DecodedPNG: Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let bitDepth: Int
    public let texts: [PNGTextChunk]
    /// Samples scaled to 0...65535 when 16-bit, 0...255 when 8-bit, interleaved.
    let samples: [UInt16]

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The image as RGB8 (or RGBA8 when `keepAlpha` and the PNG has alpha); gray is replicated.
    public func rgb8(keepAlpha: Bool = false) -> RGBImage {
        let outChannels = keepAlpha && hasAlpha ? 4 : 3
        let shift = bitDepth == 16 ? 8 : 0
        var pixels = [UInt8](repeating: 0, count: width * height * outChannels)
        for i in 0..<(width * height) {
            for c in 0..<outChannels {
                // A 16-bit sample rounds to the nearest 8-bit value (v·255/65535).
                let v = sample(pixel: i, channel: c)
                pixels[i * outChannels + c] = shift == 0 ? UInt8(v) : UInt8((UInt32(v) * 255 + 32767) / 65535)
            }
        }
        return RGBImage(validatedWidth: width, height: height, channels: outChannels, pixels: pixels)
    }

    /// The image as floats in 0...1, RGB or RGBA (when `keepAlpha` and the PNG has alpha).
    public func rgbFloat(keepAlpha: Bool = false) -> FloatImage {
        let outChannels = keepAlpha && hasAlpha ? 4 : 3
        let scale: Float = bitDepth == 16 ? 1 / 65535 : 1 / 255
        var out = [Float](repeating: 0, count: width * height * outChannels)
        for i in 0..<(width * height) {
            for c in 0..<outChannels { out[i * outChannels + c] = Float(sample(pixel: i, channel: c)) * scale }
        }
        return FloatImage(width: width, height: height, channels: outChannels, samples: out)
    }

    /// Output channel c (R, G, B, A) of pixel i from the source layout.
    @inline(__always)
    private func sample(pixel i: Int, channel c: Int) -> UInt16 {
        let base = i * channels
        switch channels {
        case 1: return c == 3 ? (bitDepth == 16 ? 65535 : 255) : samples[base]
        case 2: return c == 3 ? samples[base + 1] : samples[base]
        case 3: return c == 3 ? (bitDepth == 16 ? 65535 : 255) : samples[base + c]
        default: return samples[base + c]
        }
    }

    /// The value of the first text chunk with this keyword.
    public func text(_ keyword: String) -> String? { texts.first { $0.keyword == keyword }?.text }
}

public enum PNG {
    /// Reads and decodes a PNG file. Missing, unreadable, truncated or corrupt files give a typed error.
    public static func read(path: String) throws -> DecodedPNG {
        try decode(readBytes(path), path: path, readPixels: true)
    }

    /// Reads only the header and the text chunks before the image data (fast metadata scan).
    public static func readText(path: String) throws -> [PNGTextChunk] {
        try readInfo(path: path).texts
    }

    /// Size, format and leading text chunks, without decoding pixels.
    public static func readInfo(path: String) throws -> DecodedPNG {
        try decode(readBytes(path), path: path, readPixels: false)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>", readPixels: Bool = true) throws -> DecodedPNG {
        var image = cpng_image()
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { buffer in
            cpng_decode(buffer.baseAddress, buffer.count, readPixels ? 1 : 0, &image, &message, message.count)
        }
        defer { cpng_image_free(&image) }
        guard status == 0 else {
            throw ImageIOError.corrupt(path: path, detail: String(cString: message))
        }
        let width = Int(image.width), height = Int(image.height)
        let channels = Int(image.channels), depth = Int(image.bitDepth)
        var samples: [UInt16] = []
        if readPixels {
            let n = width * height * channels
            samples = [UInt16](repeating: 0, count: n)
            if depth == 16 {
                let p = UnsafeRawPointer(image.pixels!)
                for i in 0..<n { samples[i] = p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self) }
            } else {
                for i in 0..<n { samples[i] = UInt16(image.pixels[i]) }
            }
        }
        var texts: [PNGTextChunk] = []
        for i in 0..<Int(image.textCount) {
            let t = image.texts[i]
            let key = String(cString: t.key)
            let raw = UnsafeBufferPointer(start: UnsafeRawPointer(t.text).assumingMemoryBound(to: UInt8.self), count: t.textLength)
            // iTXt is UTF-8; tEXt/zTXt are Latin-1 by the PNG spec.
            let text = t.isInternational != 0
                ? String(decoding: raw, as: UTF8.self)
                : String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
            texts.append(PNGTextChunk(keyword: key, text: text, international: t.isInternational != 0))
        }
        return DecodedPNG(width: width, height: height, channels: channels, bitDepth: depth, texts: texts, samples: samples)
    }

    /// Encodes RGB8/RGBA8 with text chunks: tEXt when the text is Latin-1, iTXt (UTF-8) otherwise.
    public static func encode(_ image: RGBImage, texts: [PNGTextChunk] = [], compressionLevel: Int = 6) throws -> [UInt8] {
        for t in texts {
            guard (1...79).contains(t.keyword.utf8.count), t.keyword.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value <= 126 }) else {
                throw ImageIOError.invalidImage(detail: "PNG text keyword '\(t.keyword)' must be 1–79 printable ASCII characters")
            }
        }
        // libpng takes C strings; tEXt text must be Latin-1 bytes, iTXt text UTF-8.
        let prepared: [(key: [CChar], text: [CChar], intl: Bool)] = texts.map { t in
            let latin1 = !t.international && t.text.unicodeScalars.allSatisfy { $0.value < 256 && $0.value != 0 }
            let bytes: [UInt8] = latin1 ? t.text.unicodeScalars.map { UInt8($0.value) } : Array(t.text.utf8).filter { $0 != 0 }
            return (Array(t.keyword.utf8CString), bytes.map { CChar(bitPattern: $0) } + [0], !latin1)
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32 = withCStrings(prepared) { inputs in
            image.pixels.withUnsafeBufferPointer { px in
                cpng_encode(UInt32(image.width), UInt32(image.height), Int32(image.channels), px.baseAddress,
                            inputs, Int32(inputs.count), Int32(compressionLevel), &output, &size, &message, message.count)
            }
        }
        guard status == 0, let output else { throw ImageIOError.invalidImage(detail: String(cString: message)) }
        defer { cpng_buffer_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// Writes a PNG atomically (temporary file, then rename). Refuses to replace an existing file
    /// unless `overwrite`.
    public static func write(_ image: RGBImage, texts: [PNGTextChunk] = [], to path: String, overwrite: Bool = false) throws {
        let bytes = try encode(image, texts: texts)
        do {
            try AtomicFile.write(bytes, to: path, overwrite: overwrite)
        } catch let error as FileWriteError {
            throw ImageIOError.cannotWrite(path: path, reason: error.reason)
        }
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw ImageIOError.cannotRead(path: path, reason: reason)
        }
        defer { try? handle.close() }
        do {
            return Array(try handle.readToEnd() ?? Data())
        } catch {
            throw ImageIOError.cannotRead(path: path, reason: "\(error.localizedDescription)")
        }
    }

    private static func withCStrings<R>(_ items: [(key: [CChar], text: [CChar], intl: Bool)],
                                        _ body: ([cpng_text_in]) -> R) -> R {
        // Pin every buffer for the duration of the call.
        var inputs: [cpng_text_in] = []
        func pin(_ i: Int) -> R {
            if i == items.count { return body(inputs) }
            return items[i].key.withUnsafeBufferPointer { k in
                items[i].text.withUnsafeBufferPointer { t in
                    inputs.append(cpng_text_in(key: k.baseAddress, text: t.baseAddress, international: items[i].intl ? 1 : 0))
                    return pin(i + 1)
                }
            }
        }
        return pin(0)
    }
}
