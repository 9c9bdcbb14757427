import Foundation
import Testing
import Checkpoint

@Suite struct MappedFileTests {
    static func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }

    /// Dropping a mapping's pages takes them out of the resident set and leaves the contents readable.
    @Test func droppedPagesLeaveTheResidentSetAndReadBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let size = 64 << 20
        var bytes = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096 &+ 1) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        bytes = []
        let file = try MappedFile(path: path)
        func checksum() -> Int {
            var s = 0
            for i in stride(from: 0, to: size, by: 4096) { s &+= Int(file.base.load(fromByteOffset: i, as: UInt8.self)) }
            return s
        }
        let expected = checksum()   // every page touched: resident
        let before = Self.residentBytes()
        MappedFile.dropResidentPages(minimumBytes: Int.max)   // under the threshold: nothing dropped
        #expect(Self.residentBytes() > before - (16 << 20))
        MappedFile.dropResidentPages(minimumBytes: 0)
        let after = Self.residentBytes()
        #expect(after < before - (48 << 20), "RSS \(before) → \(after)")
        #expect(checksum() == expected)
    }
}
