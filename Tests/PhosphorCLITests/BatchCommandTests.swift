import Foundation
import ImageIO
import Testing
import TestSupport

@Suite struct BatchCommandTests {
    /// Two shards make every entry once, with the entry's own fields (CSV quoting, seeds); a rerun skips what exists;
    /// the manifest lists each image once.
    @Test func shardsResumeAndCSVFields() throws {
        let dir = Fixtures.temporaryFolder()
        let list = dir + "/prompts.csv"
        try "prompt,seed,steps\n\"a red circle, small\",7,3\na blue square,,2\n\"two \"\"green\"\" stars\",5,\n".write(toFile: list, atomically: true, encoding: .utf8)
        let out = dir + "/out"
        for shard in ["0/2", "1/2"] {
            let r = try CLI.run(["batch", list, "-o", out, "--shard", shard, "--steps", "2", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }.sorted()
        #expect(files == ["00000-7.png", "00001-1.png", "00002-5.png"])
        let meta = try #require(try PNG.readText(path: out + "/00000-7.png").first { $0.keyword == "parameters" }?.text)
        #expect(meta.hasPrefix("a red circle, small\n") && meta.contains("Steps: 3") && meta.contains("Seed: 7"), "\(meta)")
        let third = try #require(try PNG.readText(path: out + "/00002-5.png").first { $0.keyword == "parameters" }?.text)
        #expect(third.hasPrefix("two \"green\" stars\n") && third.contains("Steps: 2"), "\(third)")
        let again = try CLI.run(["batch", list, "-o", out, "--steps", "2"])
        #expect(again.status == 0 && again.stderr.contains("3 already done"), "\(again.stderr)")
        let manifest = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(manifest.count == 3)
    }

    /// Bad entries are found before any image is made: one line naming file and line, exit 1, nothing written.
    @Test(arguments: [
        ("p.jsonl", "{\"prompt\": \"a cat\"}\nnot json\n", ":2: not a JSON object"),
        ("p.jsonl", "{\"prompt\": \"a cat\"}\n{\"prompt\": \"a dog\", \"width\": 500}\n", ":2: width and height must be positive multiples of 8"),
        ("p.csv", "seed,steps\n1,2\n", ":1: the header has no 'prompt' column"),
        ("p.csv", "prompt,seed\na cat,1,2\n", ":2: 3 fields, the header has 2"),
        ("p.txt", "\n# only a comment\n", "no entries"),
    ])
    func badListsAreOneLine(_ c: (String, String, String)) throws {
        let dir = Fixtures.temporaryFolder()
        try c.1.write(toFile: dir + "/" + c.0, atomically: true, encoding: .utf8)
        let r = try CLI.run(["batch", dir + "/" + c.0, "-o", dir + "/out", "--steps", "1", "--quiet"])
        #expect(r.status == 1 && r.stderr.contains(c.2) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/00000-0.png"))
    }
}
