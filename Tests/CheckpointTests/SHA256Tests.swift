import Checkpoint
import Foundation
import Testing
import TestSupport

/// SHA-256 against Python's hashlib (make_fixtures.py hash_fixtures): the padding boundaries, chunked updates, a
/// file, and A1111's short model hash with its cache.
@Suite struct SHA256Tests {
    struct Fixture: Decodable {
        struct Case: Decodable { let length: Int; let sha256: String }
        struct File: Decodable { let path: String; let sha256: String }
        let cases: [Case]
        let file: File
    }
    let fx: Fixture
    init() throws {
        fx = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sha256.json"))))
    }

    func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(($0 * 31 + 7) % 256) } }

    @Test func digestsMatchHashlib() throws {
        #expect(fx.cases.count >= 10)
        for c in fx.cases {
            var whole = SHA256()
            pattern(c.length).withUnsafeBytes { whole.update($0) }
            #expect(whole.hexDigest() == c.sha256, "length \(c.length)")
            // The same bytes in uneven pieces.
            var pieces = SHA256()
            let bytes = pattern(c.length)
            var start = 0, step = 1
            while start < bytes.count {
                let end = min(start + step, bytes.count)
                bytes[start..<end].withUnsafeBytes { pieces.update($0) }
                start = end
                step = step * 3 % 97 + 1
            }
            #expect(pieces.hexDigest() == c.sha256, "pieces, length \(c.length)")
        }
    }

    @Test func fileHashAndA1111ShortHashWithCache() throws {
        let path = Fixtures.path(fx.file.path)
        #expect(try SHA256.hexDigest(ofFile: path) == fx.file.sha256)
        let cache = Fixtures.temporaryFolder() + "/hashes.json"
        #expect(try ModelHash.short(ofFile: path, cache: cache) == String(fx.file.sha256.prefix(10)))
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cache))) as? [String: [String: Any]])
        #expect(stored.values.first?["sha256"] as? String == fx.file.sha256)
        // A second call answers from the cache (an entry edited to another hash shows it was used).
        var edited = stored
        let key = stored.keys.first!
        edited[key]!["sha256"] = String(repeating: "a", count: 64)
        try JSONSerialization.data(withJSONObject: edited).write(to: URL(fileURLWithPath: cache))
        #expect(try ModelHash.short(ofFile: path, cache: cache) == "aaaaaaaaaa")
        #expect(throws: CheckpointError.self) { try SHA256.hexDigest(ofFile: "/nonexistent/model.safetensors") }
    }
}
