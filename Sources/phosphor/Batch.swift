import ArgumentParser
import Foundation
import ImageIO
import Pipeline

/// `phosphor batch FILE`: one image per entry of a prompt list, resumable and shardable.
struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate one image per entry of a prompt list (.txt, .jsonl or .csv); resumable, shardable across machines.",
        discussion: """
        .txt: one prompt per line (blank lines and lines starting with # are skipped). .jsonl: one object per line, \
        .csv: a header row then one row per entry; both name fields as phosphor's metadata does (prompt, \
        negative_prompt, seed, steps, cfg_scale, width, height, sampler, schedule, ...); fields an entry lacks come \
        from the flags. Entry i (0-based, file order) gets seed --seed + i unless it names one, and is written to \
        OUTPUT/NNNNN-SEED.png with NNNNN = i, so a rerun skips what exists (resume) and --shard K/N makes entries \
        with i mod N = K. Each finished image is appended to OUTPUT/manifest.jsonl.
        """)

    @Argument(help: "The prompt list: .txt, .jsonl or .csv.") var file: String
    @Option(help: "Make only entries i with i mod N = K (K/N, e.g. 0/4 on the first of four machines).") var shard: String?
    @OptionGroup var options: GenerationOptions

    func validate() throws {
        if options.prompt != nil { throw ValidationError("batch takes its prompts from the file; got an extra argument '\(options.prompt!)'") }
        if options.from != nil || options.batchCount != 1 || options.batchSize != 1 {
            throw ValidationError("--from, --batch-count and --batch-size do not apply to batch")
        }
        if options.output.lowercased().hasSuffix(".png") { throw ValidationError("batch writes into a folder, not the file \(options.output)") }
        _ = try shardSpec()
    }

    func shardSpec() throws -> (index: Int, count: Int) {
        guard let shard else { return (0, 1) }
        let parts = shard.split(separator: "/").map { Int($0) }
        guard parts.count == 2, let k = parts[0], let n = parts[1], n >= 1, k >= 0, k < n else {
            throw ValidationError("--shard must be K/N with 0 ≤ K < N, got '\(shard)'")
        }
        return (k, n)
    }

    func run() throws {
        options.threadOptions.apply()
        Interrupt.install()
        let entries = try PromptList.read(file)
        var base = try options.request()
        if options.seed == nil { base.seed = 0 }
        // Every entry is checked before any image is made: one line naming file and line.
        var requests: [GenerationRequest] = []
        for entry in entries {
            var r = try entry.apply(to: base, defaultSeed: base.seed + UInt64(requests.count), file: file)
            do { try r.validate() } catch { throw PromptListError.bad(file: file, line: entry.line, "\(error)") }
            if r.model.isEmpty { r.model = base.model }
            requests.append(r)
        }
        let (k, n) = try shardSpec()
        try FileManager.default.createDirectory(atPath: options.output, withIntermediateDirectories: true)
        let mine = requests.indices.filter { $0 % n == k }
        // Done = a PNG that decodes (writes are atomic, but a file can be damaged or replaced by hand). A kill between
        // writing an image and its manifest line leaves an image the manifest lacks: it gets its line now.
        let listed = manifestIndices()
        let todo = mine.filter { (try? PNG.read(path: path(index: $0, seed: requests[$0].seed))) == nil }
        let pending = Set(todo)
        for i in mine where !listed.contains(i) && !pending.contains(i) {
            let out = path(index: i, seed: requests[i].seed)
            try appendManifest(["index": i, "file": (out as NSString).lastPathComponent, "seed": requests[i].seed,
                                "prompt": requests[i].prompt, "seconds": NSNull()])
        }
        if !options.quiet {
            FileHandle.standardError.write(Data("\(file): \(entries.count) entries, \(mine.count) in shard \(k)/\(n), \(mine.count - todo.count) already done\n".utf8))
        }
        guard !todo.isEmpty else { return }
        var loaded: [String: (Pipeline, String)] = [:]   // model as named → pipeline, name for the metadata
        for (done, i) in todo.enumerated() {
            var request = requests[i]
            let key = request.model
            if loaded[key] == nil {
                var probe = request
                loaded[key] = try options.load(&probe)
            }
            let (pipeline, name) = loaded[key]!
            if request.model.isEmpty { request.model = Assets.defaultModel }
            options.applyDefaults(pipeline.defaults, to: &request, given: entries[i].has)
            let out = path(index: i, seed: request.seed)
            let start = Date()
            try options.produce(request, pipeline: pipeline, modelName: name, path: out, run: done + 1, of: todo.count)
            let record: [String: Any] = ["index": i, "file": (out as NSString).lastPathComponent, "seed": request.seed,
                                         "prompt": request.prompt, "seconds": (Date().timeIntervalSince(start) * 100).rounded() / 100]
            if !listed.contains(i) { try appendManifest(record) }
        }
    }

    func path(index: Int, seed: UInt64) -> String {
        options.output + "/" + String(format: "%05d-%llu.png", index, seed)
    }

    /// The entries manifest.jsonl already lists (lines that do not parse, such as a line cut by a kill, are ignored).
    func manifestIndices() -> Set<Int> {
        guard let text = try? String(contentsOfFile: options.output + "/manifest.jsonl", encoding: .utf8) else { return [] }
        return Set(text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["index"] as? Int
        })
    }

    func appendManifest(_ record: [String: Any]) throws {
        let path = options.output + "/manifest.jsonl"
        do { try appendLine(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), to: path) } catch {
            throw PromptListError.bad(file: path, line: 0, "cannot append to the manifest: \(error.localizedDescription)")
        }
    }
}

enum PromptListError: Error, CustomStringConvertible {
    case bad(file: String, line: Int, String)
    var description: String {
        switch self { case let .bad(file, line, message): line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
    }
}

/// One entry of a prompt list: the fields it gives (JSON values, named as GenerationRequest's JSON) and its line.
struct PromptEntry {
    var fields: [String: Any]
    var line: Int

    func has(_ key: String) -> Bool { fields[key] != nil }

    /// The base request with this entry's fields on top; its seed unless the entry names one.
    func apply(to base: GenerationRequest, defaultSeed: UInt64, file: String) throws -> GenerationRequest {
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any] ?? [:]
        merged["seed"] = defaultSeed
        for (k, v) in fields { merged[k] = v }
        guard merged["prompt"] is String else { throw PromptListError.bad(file: file, line: line, "no prompt") }
        do {
            return try JSONDecoder().decode(GenerationRequest.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context) {
            throw PromptListError.bad(file: file, line: line, "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        }
    }
}

enum PromptList {
    static func read(_ path: String) throws -> [PromptEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { throw PromptListError.bad(file: path, line: 0, "cannot read the prompt list") }
        guard let text = String(data: data, encoding: .utf8) else { throw PromptListError.bad(file: path, line: 0, "not UTF-8 text") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let entries: [PromptEntry]
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson":
            entries = try lines.enumerated().compactMap { (i, line) -> PromptEntry? in
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw PromptListError.bad(file: path, line: i + 1, "not a JSON object")
                }
                return PromptEntry(fields: object, line: i + 1)
            }
        case "csv":
            let rows = try CSV.parse(text, path: path)
            guard let header = rows.first?.fields else { throw PromptListError.bad(file: path, line: 0, "empty CSV (a header row is needed)") }
            guard header.contains("prompt") else { throw PromptListError.bad(file: path, line: 1, "the header has no 'prompt' column") }
            entries = try rows.dropFirst().compactMap { row -> PromptEntry? in
                if row.fields.allSatisfy({ $0.isEmpty }) { return nil }
                guard row.fields.count == header.count else {
                    throw PromptListError.bad(file: path, line: row.line, "\(row.fields.count) fields, the header has \(header.count)")
                }
                var fields: [String: Any] = [:]
                for (k, v) in zip(header, row.fields) where !v.isEmpty {
                    if k == "prompt" || k == "negative_prompt" || k == "model" { fields[k] = v }
                    else if let i = Int64(v) { fields[k] = i }
                    else if let d = Double(v) { fields[k] = d }
                    else if v == "true" || v == "false" { fields[k] = v == "true" }
                    else { fields[k] = v }
                }
                return PromptEntry(fields: fields, line: row.line)
            }
        default:
            entries = lines.enumerated().compactMap { (i, line) in
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.isEmpty || t.hasPrefix("#") ? nil : PromptEntry(fields: ["prompt": t], line: i + 1)
            }
        }
        guard !entries.isEmpty else { throw PromptListError.bad(file: path, line: 0, "no entries") }
        return entries
    }
}

/// RFC 4180 CSV: commas, double-quoted fields with "" escapes and embedded newlines.
enum CSV {
    static func parse(_ text: String, path: String) throws -> [(fields: [String], line: Int)] {
        var rows: [(fields: [String], line: Int)] = []
        var fields: [String] = [], field = "", quoted = false, line = 1, rowLine = 1, afterQuote = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !afterQuote: quoted = true
            case ",": fields.append(field); field = ""; afterQuote = false
            case "\r": continue
            case "\n":
                fields.append(field); rows.append((fields, rowLine))
                fields = []; field = ""; afterQuote = false; line += 1; rowLine = line
            default:
                if afterQuote { throw PromptListError.bad(file: path, line: line, "text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        if quoted { throw PromptListError.bad(file: path, line: rowLine, "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); rows.append((fields, rowLine)) }
        return rows
    }
}
