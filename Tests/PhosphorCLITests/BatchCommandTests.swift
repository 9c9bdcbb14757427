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

    /// Regional prompting per entry: a JSONL line's "regions" (strength optional) and "layout", stored in its PNG;
    /// an entry with a bad region stops the run with its line number and the region named.
    @Test func regionsPerEntry() throws {
        let dir = Fixtures.temporaryFolder()
        let list = dir + "/prompts.jsonl"
        try """
        {"prompt": "a green ring", "seed": 4, "layout": "off", "regions": [{"x": 0, "y": 0, "width": 64, "height": 64, "prompt": "a yellow star"}]}
        {"prompt": "a red circle left of a blue square", "seed": 5}
        """.write(toFile: list, atomically: true, encoding: .utf8)
        let r = try CLI.run(["batch", list, "-o", dir + "/out", "--steps", "3", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let first = try #require(try PNG.read(path: dir + "/out/00000-4.png").text("parameters"))
        #expect(first.contains("Regions: \"0,0,64,64:a yellow star\"") && !first.contains("Layout"), "\(first)")
        let second = try #require(try PNG.read(path: dir + "/out/00001-5.png").text("parameters"))
        #expect(second.contains("Layout: auto"), "\(second)")   // the default model's own setting
        try """
        {"prompt": "a green ring", "regions": [{"x": 0, "y": 0, "width": 60, "height": 64, "prompt": "a star"}]}
        """.write(toFile: list, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["batch", list, "-o", dir + "/bad", "--steps", "1", "--quiet"])
        #expect(bad.status == 1 && bad.stderr.contains("region 1 (0,0,60,64:a star)") && bad.stderr.contains("multiples of 8"), "\(bad.stderr)")
    }

    /// A 20-line JSONL with per-line overrides, killed with SIGKILL part-way and run again: every entry is made
    /// once, every PNG decodes, the manifest lists each entry once; three shards of a fresh run make the same files,
    /// each once.
    @Test func killNineResumeAndThreeShards() throws {
        let dir = Fixtures.temporaryFolder()
        let lines = (0..<20).map { i -> String in
            var fields = ["\"prompt\": \"a shape number \(i)\""]
            if i % 4 == 1 { fields.append("\"seed\": \(100 + i)") }
            if i % 5 == 2 { fields.append("\"width\": 64, \"height\": 96") }
            if i % 6 == 3 { fields.append("\"sampler\": \"euler_a\"") }
            if i % 7 == 4 { fields.append("\"steps\": 1") }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        let list = dir + "/list.jsonl"
        try lines.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let out = dir + "/out", manifest = out + "/manifest.jsonl"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["batch", list, "-o", out, "--steps", "2", "--quiet"]
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        func listedCount() -> Int { ((try? String(contentsOfFile: manifest, encoding: .utf8)) ?? "").split(separator: "\n").count }
        while listedCount() < 4 && Date() < deadline && process.isRunning { usleep(20_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let pngs = { (folder: String) in try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".png") && !$0.hasPrefix(".") }.sorted() }
        let before = try pngs(out)
        #expect(before.count >= 4 && before.count < 20, "\(before.count) images before the kill")

        let again = try CLI.run(["batch", list, "-o", out, "--steps", "2", "--quiet"])
        #expect(again.status == 0, "\(again.stderr)")
        let records = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(records.compactMap { $0["index"] as? Int }.sorted() == Array(0..<20))
        let files = try pngs(out)
        #expect(files.count == 20)
        for name in files { _ = try PNG.read(path: out + "/" + name) }
        #expect(files.contains("00001-101.png") && files.contains("00005-105.png"))
        let tall = try PNG.read(path: out + "/" + files.first { $0.hasPrefix("00002-") }!)
        #expect(tall.width == 64 && tall.height == 96)

        // An image whose manifest line was lost (a kill between the two writes) gets its line back, once, and is
        // not made again.
        let kept = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").filter { !$0.contains("\"index\":3,") }
        try (kept.joined(separator: "\n") + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        let recover = try CLI.run(["batch", list, "-o", out, "--steps", "2"])
        #expect(recover.status == 0 && recover.stderr.contains("20 already done"), "\(recover.stderr)")
        let indices = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["index"] as? Int
        }
        #expect(indices.sorted() == Array(0..<20))

        let sharded = dir + "/sharded"
        for shard in ["0/3", "1/3", "2/3"] {
            let r = try CLI.run(["batch", list, "-o", sharded, "--steps", "2", "--shard", shard, "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try pngs(sharded) == files)
        let shardRecords = try String(contentsOfFile: sharded + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(shardRecords.count == 20)
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
